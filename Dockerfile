# One image for the coordinator and the nodes: `pressmesh coordinator` or `pressmesh node`.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY protocol ./protocol
COPY node ./node
COPY coordinator ./coordinator
COPY cli ./cli
ENV PRESSMESH_LOG_FORMAT=json
# malloc settings for node processes (see NODE_MALLOC_TUNABLES in node/heap-tuning.ts)
ENV GLIBC_TUNABLES=glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=536870912
ENTRYPOINT ["node", "cli/bin/pressmesh.js"]

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
ENTRYPOINT ["node", "cli/bin/pressmesh.js"]

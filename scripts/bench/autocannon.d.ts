// The part of autocannon's API the dispatch benchmark uses (the package ships no types).
declare module 'autocannon' {
  interface Request {
    method: string
    path: string
    headers?: Record<string, string>
    body?: string
  }

  interface Options {
    url: string
    connections?: number
    overallRate?: number
    duration?: number
    requests?: Request[]
  }

  interface Histogram {
    p50: number
    p90: number
    p99: number
    max: number
    average: number
  }

  interface Result {
    requests: { total: number; average: number }
    latency: Histogram
    errors: number
    non2xx: number
    timeouts: number
  }

  export default function autocannon(options: Options): Promise<Result>
}

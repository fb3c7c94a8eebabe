// FAT dates and times (Microsoft FAT specification, "Date and Time Formats"): a date is
// (year - 1980) << 9 | month << 5 | day, a time hours << 11 | minutes << 5 | seconds / 2. The
// format has no time zone; Pressmesh records UTC. Times before 1980 or after 2107 are clamped.

const FIRST = Date.UTC(1980, 0, 1) / 1000
const LAST = Date.UTC(2107, 11, 31, 23, 59, 58) / 1000

export interface FatStamp {
  date: number
  time: number
}

export function fatStamp(seconds: number): FatStamp {
  const clamped = new Date(Math.min(LAST, Math.max(FIRST, seconds)) * 1000)
  const date =
    ((clamped.getUTCFullYear() - 1980) << 9) |
    ((clamped.getUTCMonth() + 1) << 5) |
    clamped.getUTCDate()
  const time =
    (clamped.getUTCHours() << 11) |
    (clamped.getUTCMinutes() << 5) |
    Math.floor(clamped.getUTCSeconds() / 2)

  return { date, time }
}

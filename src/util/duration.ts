import { CdnPublishError, Codes } from '../errors.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const UNITS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY }

/** Accepted forms, as error messages state them. */
export const DURATION_FORMS =
  "a non-negative number of milliseconds, or a string such as '500ms', '90s', '15m', '1h', '1.5h', '2d' or '0'"

const DURATION_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)?$/

/**
 * Milliseconds of a duration option: a non-negative finite number (milliseconds) or a string made
 * of a non-negative decimal number and a unit (`ms`, `s`, `m`, `h`, `d`), such as `'90s'` or
 * `'1.5h'`. A string without a unit is accepted only for `'0'` (a bare `'5000'` is ambiguous).
 * The result is rounded to whole milliseconds.
 * @param option Name of the option, for the error message (e.g. `retention.grace`).
 * @throws CdnPublishError `INVALID_OPTION` naming the option and the accepted forms.
 */
export function parseDuration(value: string | number, option: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER) return Math.round(value)
    throw invalidDuration(option, value)
  }
  if (typeof value === 'string') {
    const m = DURATION_RE.exec(value.trim())
    if (m) {
      const amount = Number(m[1])
      const unit = m[2]
      if (unit === undefined && amount !== 0) throw invalidDuration(option, value, 'a number in a string needs a unit')
      const ms = Math.round(amount * (unit === undefined ? 1 : UNITS[unit]))
      if (Number.isFinite(ms) && ms <= Number.MAX_SAFE_INTEGER) return ms
    }
  }
  throw invalidDuration(option, value)
}

function invalidDuration(option: string, value: unknown, hint?: string): CdnPublishError {
  const shown = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))
  return new CdnPublishError(
    Codes.INVALID_OPTION,
    `Invalid option \`${option}\`: expected ${DURATION_FORMS}, got ${shown}${hint ? ` (${hint})` : ''}.`,
    { option },
  )
}

/**
 * A short human-readable duration for messages: an exact value in its unit (`'1h'`, `'48h'`,
 * `'20m'`, `'500ms'`; days from 3 days on, `'7d'`), or in the next smaller unit when short
 * (`'90s'`, `'90m'`); other values are rounded down (`'3.2h'`, `'47h'`, `'5.1d'`), so an age
 * never reads as reaching a limit it has not reached.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  if (ms < 0) return `-${formatDuration(-ms)}`
  if (ms < SECOND) return `${Math.floor(ms)}ms`
  const units: [number, string][] = [
    [DAY, 'd'],
    [HOUR, 'h'],
    [MINUTE, 'm'],
    [SECOND, 's'],
  ]
  const at = ms >= 3 * DAY ? 0 : ms >= HOUR ? 1 : ms >= MINUTE ? 2 : 3
  const [size, name] = units[at]
  if (ms % size === 0) return `${ms / size}${name}`
  const smaller = units[at + 1]
  if (smaller && ms % smaller[0] === 0 && ms / smaller[0] < 100) return `${ms / smaller[0]}${smaller[1]}`
  const value = ms / size
  const shown = value < 10 ? Math.floor(value * 10) / 10 : Math.floor(value)
  return `${shown}${name}`
}

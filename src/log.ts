/**
 * The one logger of the deploy, prune, rollback and status work, whoever runs it: the Vite
 * plugin (Vite's logger, lines prefixed `[cdn-publish]`), plain Rollup (the plugin context's
 * logs) or the CLI (stderr). Warnings always carry a code: the bundler reports them as the
 * plugin's warnings (`pluginCode`), the CLI prints `warning [CODE]: …`. On a terminal, progress
 * is one live line that the next line replaces.
 */
import type { Code } from './errors.js'

export interface PublishLogger {
  info(line: string): void
  warn(line: string, code: Code): void
  /**
   * Show a progress line that replaces the previous one (a terminal). Absent when the output is
   * not a terminal: progress then comes as plain `info` lines every few seconds.
   */
  live?(line: string): void
}

/** A logger that prints nothing (for callers that only want the report). */
export const silentLogger: PublishLogger = { info() {}, warn() {} }

/** The plugin context's warning/info calls (Rollup, Rolldown and Vite alike). */
export interface LogContext {
  warn(log: { code: string; message: string }): void
  info?(log: { code?: string; message: string } | string): void
}

/** What of Vite's resolved config the logger reads. */
export interface ViteLogSink {
  logger?: { info(msg: string): void }
  logLevel?: string
}

export const LOG_PREFIX = '[cdn-publish] '

/**
 * The logger of a build: info lines through Vite's logger (or, under plain Rollup, the context's
 * `info`), warnings through the context's `warn` with their code, a live line on a terminal.
 */
export function buildLogger(ctx: LogContext, vite: ViteLogSink | undefined): PublishLogger {
  const sink = vite?.logger
  const live = sink !== undefined && (vite!.logLevel === undefined || vite!.logLevel === 'info') ? terminal(process.stdout) : undefined
  return {
    info: (line) => {
      live?.clear()
      if (sink) sink.info(LOG_PREFIX + line)
      else if (ctx.info) ctx.info({ message: line })
      else process.stderr.write(`${LOG_PREFIX}${line}\n`)
    },
    warn: (line, code) => {
      live?.clear()
      ctx.warn({ code, message: line })
    },
    ...(live ? { live: (line: string) => live.show(LOG_PREFIX + line) } : {}),
  }
}

/** The CLI's logger: every line on `write` (stderr), warnings as `warning [CODE]: …`. */
export function streamLogger(write: (text: string) => void, isTTY: boolean): PublishLogger {
  const live = isTTY && !process.env.CI ? terminalOn(write) : undefined
  return {
    info: (line) => {
      live?.clear()
      write(`${line}\n`)
    },
    warn: (line, code) => {
      live?.clear()
      write(`warning [${code}]: ${line}\n`)
    },
    ...(live ? { live: (line: string) => live.show(line) } : {}),
  }
}

/** A live line on a terminal stream, or undefined when the stream is not one (or in CI). */
function terminal(stream: NodeJS.WriteStream): ReturnType<typeof terminalOn> | undefined {
  return stream.isTTY && !process.env.CI ? terminalOn((t) => stream.write(t)) : undefined
}

function terminalOn(write: (text: string) => void) {
  let shown = false
  return {
    show(line: string) {
      write(`\r\x1b[K${line}`)
      shown = true
    },
    clear() {
      if (shown) write('\r\x1b[K')
      shown = false
    },
  }
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n / 1000
  let i = 0
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`
}

/** Counts finished uploads and reports them: live on a terminal, every `intervalMs` otherwise. */
export class Progress {
  private files = 0
  private bytes = 0
  private lastShown = 0
  private readonly started: number

  constructor(
    private readonly logger: PublishLogger,
    private readonly totalFiles: number,
    private readonly totalBytes: number,
    private readonly now: () => number = () => performance.now(),
    private readonly intervalMs = logger.live ? 100 : 5_000,
  ) {
    this.started = now()
    this.lastShown = this.started
  }

  /** One file finished. */
  add(bytes: number): void {
    this.files++
    this.bytes += bytes
    const t = this.now()
    if (t - this.lastShown < this.intervalMs && this.files < this.totalFiles) return
    this.lastShown = t
    const line = this.line(t)
    if (this.logger.live) this.logger.live(line)
    else if (this.files < this.totalFiles) this.logger.info(line)
  }

  private line(t: number): string {
    const seconds = Math.max((t - this.started) / 1000, 0.001)
    return (
      `uploading ${this.files}/${this.totalFiles} files, ${formatBytes(this.bytes)} of ${formatBytes(this.totalBytes)}` +
      ` (${formatBytes(Math.round(this.bytes / seconds))}/s)`
    )
  }
}

/** Output of the publish step: lines through a logger, live progress on a terminal. */

/** Where the publish step writes its lines (already prefixed by whoever builds it). */
export interface PublishLogger {
  info(line: string): void
  warn(line: string): void
  /**
   * Show a progress line that replaces the previous one (a terminal). Absent when the output is
   * not a terminal: progress then comes as plain `info` lines every few seconds.
   */
  live?(line: string): void
}

/** A logger that prints nothing (for callers that only want the report). */
export const silentLogger: PublishLogger = { info() {}, warn() {} }

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

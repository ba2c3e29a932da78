import { CdnPublishError, Codes } from '../errors.js'
import type { ViteConfigLike } from '../plugin.js'
import { loadEnvFiles, resolvePublishOptions, type PublishOptions, type ResolvedPublishOptions } from '../options/publish.js'
import { resolveRetention, type RetentionOptions } from '../options/retention.js'
import { runDeploy } from '../deploy/deploy.js'
import type { PublishLogger } from '../log.js'

/** What the plugin hands the publish step after a client build wrote its output. */
export interface PublishStepInput {
  options: PublishOptions | false | undefined
  retention: RetentionOptions | false | undefined
  vite: ViteConfigLike | undefined
  /** Absolute output directory. */
  outDir: string
  /** Manifest file name relative to `outDir`; `false` when the user turned the manifest off. */
  manifest: string | false
  label: string | undefined
}

/** The parts of the plugin context the publish step may use (Rollup/Rolldown `closeBundle` context). */
export interface StepContext {
  warn(log: { code: string; message: string; [key: string]: unknown }): void
  error(log: { code: string; message: string; [key: string]: unknown }): never
  info?(log: { code?: string; message: string } | string): void
}

export const SKIPPED_NO_BUCKET = 'publishing skipped: no bucket (set publish.bucket or CDN_PUBLISH_BUCKET)'

const PREFIX = '[cdn-publish] '

/**
 * Publish the written output (closeBundle of a client build). Publishes only when a bucket is
 * configured; fails the build with the error's code and a self-contained message otherwise.
 */
export async function runPublishStep(ctx: StepContext, input: PublishStepInput): Promise<void> {
  if (input.options === false) return
  const logger = createLogger(ctx, input.vite)
  let options: ResolvedPublishOptions
  let retention: ReturnType<typeof resolveRetention>
  try {
    const files = await loadEnvFiles(input.vite)
    options = resolvePublishOptions(input.options, { process: process.env, files }, input.label)
    retention = resolveRetention(input.retention)
  } catch (err) {
    return fail(ctx, err)
  }
  const bucket = options.bucket
  if (bucket === undefined) {
    logger.info(SKIPPED_NO_BUCKET, Codes.PUBLISH_SKIPPED)
    return
  }
  if (input.manifest === false) {
    ctx.warn({
      code: Codes.PUBLISH_SKIPPED,
      message: `publishing to bucket "${bucket}" skipped: \`manifest: false\` writes no manifest, and publishing needs it. Remove \`manifest: false\`, or set \`publish: false\`.`,
    })
    return
  }
  try {
    await runDeploy({
      outDir: input.outDir,
      manifest: input.manifest,
      options: { ...options, bucket },
      retention,
      logger,
      warn: (code, message) => {
        logger.close()
        ctx.warn({ code, message })
      },
    })
  } catch (err) {
    logger.close()
    return fail(ctx, err)
  }
}

/**
 * Fail the build. A coded error is reported by its message alone (no stack trace: the message
 * says what failed and what to do); `DEBUG=cdn-publish` keeps the stack. Anything else is a bug
 * and keeps its stack.
 */
function fail(ctx: StepContext, err: unknown): never {
  if (!(err instanceof CdnPublishError)) throw err
  const debug = /(?:^|,)\s*(?:cdn-publish|\*)\s*(?:,|$)/.test(process.env.DEBUG ?? '')
  const stack = debug ? err.stack : `CdnPublishError [${err.code}]: ${err.message}`
  return ctx.error({ ...err.data, code: err.code, message: err.message, stack })
}

interface LoggerSink {
  info(msg: string): void
  warn(msg: string): void
}

/** Vite's logger (lines prefixed `[cdn-publish]`) under Vite, the plugin context's logs under Rollup. */
type StepLogger = PublishLogger & { info(line: string, code?: string): void; close(): void }

function createLogger(ctx: StepContext, vite: ViteConfigLike | undefined): StepLogger {
  const sink: LoggerSink | undefined = vite?.logger
  if (!sink) {
    return {
      info: (line: string, code?: string) => {
        if (ctx.info) ctx.info(code ? { code, message: line } : line)
        else process.stderr.write(`${PREFIX}${line}\n`)
      },
      warn: (line) => ctx.warn({ code: Codes.PUBLISH_FAILED, message: line }),
      close() {},
    }
  }
  const level = (vite as { logLevel?: unknown }).logLevel
  const tty = Boolean(process.stdout.isTTY) && !process.env.CI && (level === undefined || level === 'info')
  let shown = false
  const clear = () => {
    if (!shown) return
    process.stdout.write('\r\x1b[K')
    shown = false
  }
  const logger: StepLogger = {
    info: (line) => {
      clear()
      sink.info(PREFIX + line)
    },
    warn: (line) => {
      clear()
      sink.warn(PREFIX + line)
    },
    close: clear,
  }
  if (tty) {
    logger.live = (line) => {
      process.stdout.write(`\r\x1b[K${PREFIX}${line}`)
      shown = true
    }
  }
  return logger
}

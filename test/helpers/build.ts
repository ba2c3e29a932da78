import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { cdnPublish, type CdnManifest, type CdnPublishOptions } from '../../src/index.js'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const tmpRoot = path.join(repoRoot, 'test/.tmp')

export type ViteName = 'vite8' | 'vite7'
export const vites: ViteName[] = ['vite8', 'vite7']

/** A build's warnings/errors as the bundler delivers them (plugin codes in `pluginCode`). */
export interface Log {
  code?: string
  pluginCode?: string
  message: string
  plugin?: string
  [key: string]: unknown
}

/** Copy a fixture app to a fresh directory so a test can change its files. */
export function copyFixture(name: string): string {
  mkdirSync(tmpRoot, { recursive: true })
  const dir = mkdtempSync(path.join(tmpRoot, `${name}-`))
  cpSync(path.join(repoRoot, 'test/fixtures', name), dir, { recursive: true })
  return dir
}

export function removeDir(dir: string) {
  rmSync(dir, { recursive: true, force: true })
}

export async function loadVite(name: ViteName): Promise<typeof import('vite')> {
  return (name === 'vite7' ? await import('vite7') : await import('vite')) as typeof import('vite')
}

export interface BuildResult {
  outDir: string
  /** Every file in outDir (POSIX relative path → bytes). */
  files: Map<string, Buffer>
  warnings: Log[]
  manifest: CdnManifest | undefined
  text(fileName: string): string
  /** The single output file whose name matches. */
  find(re: RegExp): string
}

export function readOutDir(outDir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>()
  for (const e of readdirSync(outDir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue
    const rel = path.relative(outDir, path.join(e.parentPath, e.name)).split(path.sep).join('/')
    files.set(rel, readFileSync(path.join(e.parentPath, e.name)))
  }
  return files
}

export function result(outDir: string, warnings: Log[], manifestName = 'cdn-manifest.json'): BuildResult {
  const files = readOutDir(outDir)
  const m = files.get(manifestName)
  return {
    outDir,
    files,
    warnings,
    manifest: m ? JSON.parse(m.toString('utf8')) : undefined,
    text: (f) => {
      const b = files.get(f)
      if (!b) throw new Error(`${f} not in output: ${[...files.keys()].join(', ')}`)
      return b.toString('utf8')
    },
    find: (re) => {
      const hits = [...files.keys()].filter((f) => re.test(f))
      if (hits.length !== 1) throw new Error(`expected one file matching ${re}, got ${hits.join(', ') || 'none'}`)
      return hits[0]
    },
  }
}

/** Run a real `vite build` of the app in `root`. */
export async function viteBuild(
  vite: ViteName,
  root: string,
  options: CdnPublishOptions = {},
  config: Record<string, any> = {},
): Promise<BuildResult> {
  const { build } = await loadVite(vite)
  const warnings: Log[] = []
  const outDir = path.join(root, 'dist')
  const { build: buildConfig = {}, plugins = [], ...rest } = config
  await build({
    root,
    configFile: false,
    envFile: false,
    logLevel: 'silent',
    plugins: [cdnPublish(options), ...plugins],
    ...rest,
    build: {
      outDir,
      emptyOutDir: true,
      ...buildConfig,
      rollupOptions: {
        ...buildConfig.rollupOptions,
        onwarn(warning: Log) {
          warnings.push(warning)
        },
      },
    },
  })
  return result(outDir, warnings, options.manifest === false ? undefined : options.manifest)
}

/** The error a failed build reports for a plugin (Rolldown wraps it in `errors`). */
export async function buildError(p: Promise<unknown>): Promise<Log> {
  try {
    await p
  } catch (e) {
    const err = e as Log & { errors?: Log[] }
    return err.errors?.[0] ?? err
  }
  throw new Error('the build did not fail')
}

export interface Logs {
  lines: string[]
  text(): string
  logger: Record<string, unknown>
}

/** A Vite `customLogger` that keeps every line. */
export function captureLogs(): Logs {
  const lines: string[] = []
  const push = (msg: string) => lines.push(msg)
  return {
    lines,
    text: () => lines.join('\n'),
    logger: {
      info: push,
      warn: push,
      warnOnce: push,
      error: push,
      clearScreen() {},
      hasErrorLogged: () => false,
      hasWarned: false,
    },
  }
}

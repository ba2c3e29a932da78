import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import { expect } from 'vitest'
import { cdnPublish, type CdnManifest, type CdnPublishOptions } from '../../src/index.js'
import { defaultReportPath } from '../../src/deploy/index.js'
import type { PublishReport } from '../../src/publish/report.js'
import { expectNoInternalTokens } from './tokens.js'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const tmpRoot = path.join(repoRoot, 'test/.tmp')

export type ViteName = 'vite8' | 'vite7' | 'vite6'
/** The Vite majors every build test runs on; Vite 6 (which Astro 5 brings) only where named. */
export const vites: ViteName[] = ['vite8', 'vite7']

/** A build's warnings/errors as the bundler delivers them (plugin codes in `pluginCode`). */
export interface Log {
  code?: string
  pluginCode?: string
  message: string
  plugin?: string
  [key: string]: unknown
}

/** Copy a project of this repository (`test/fixtures/basic`, `playground/skew`) to a fresh directory under test/.tmp, without its dist/ and node_modules/. */
export function copyProject(relDir: string): string {
  mkdirSync(tmpRoot, { recursive: true })
  const dir = mkdtempSync(path.join(tmpRoot, `${path.basename(relDir)}-`))
  cpSync(path.join(repoRoot, relDir), dir, { recursive: true, filter: (src) => !/[/\\](dist|node_modules)$/.test(src) })
  return dir
}

/** Copy a fixture app (test/fixtures/<name>) to a fresh directory so a test can change its files. */
export function copyFixture(name: string): string {
  return copyProject(path.join('test/fixtures', name))
}

export function removeDir(dir: string) {
  rmSync(dir, { recursive: true, force: true })
}

/** The fixture app, with the bytes of its public logo and its lazy module changeable per release. */
export interface ChangingApp {
  root: string
  /**
   * Make the next release: the public logo gets `logo` appended to its original bytes, the lazy
   * module sets `lazy` on the page when it loads (code the bundle keeps, so its chunk changes).
   * What is not given is back to the original.
   */
  set(change: { logo?: string; lazy?: string }): void
}

/**
 * Copies made by one test file, all removed by `cleanup()` (call it in afterAll):
 * `copy()` of a fixture app, `project()` of any project of the repository, `app()` for a fixture
 * app changed release after release, `temp()` for an empty directory, `track()` for a directory
 * made otherwise.
 */
export function fixtureCopies() {
  const dirs: string[] = []
  const track = (dir: string): string => {
    dirs.push(dir)
    return dir
  }
  return {
    copy: (name = 'basic') => track(copyFixture(name)),
    project: (relDir: string) => track(copyProject(relDir)),
    temp: (label: string) => track(tempDir(label)),
    track,
    app(): ChangingApp {
      const root = track(copyFixture('basic'))
      const logo = path.join(root, 'public/img/logo.png')
      const lazy = path.join(root, 'src/lazy.js')
      const original = { logo: readFileSync(logo), lazy: readFileSync(lazy, 'utf8') }
      return {
        root,
        set({ logo: l, lazy: z }) {
          writeFileSync(logo, Buffer.concat([original.logo, Buffer.from(l ?? '')]))
          writeFileSync(lazy, z === undefined ? original.lazy : `${original.lazy}\ndocument.documentElement.dataset.release = ${JSON.stringify(z)}\n`)
        },
      }
    },
    cleanup() {
      dirs.splice(0).forEach(removeDir)
    },
  }
}

export async function loadVite(name: ViteName): Promise<typeof import('vite')> {
  return (name === 'vite7' ? await import('vite7') : name === 'vite6' ? await import('vite6') : await import('vite')) as typeof import('vite')
}

export interface BuildResult {
  outDir: string
  /** Every file in outDir (POSIX relative path → bytes). */
  files: Map<string, Buffer>
  /** Warnings of the bundler and its plugins, this one's included (`onwarn`), in the order reported. */
  warnings: Log[]
  /** Warnings Vite printed through its logger (none under plain Rollup). */
  viteWarnings: string[]
  manifest: CdnManifest | undefined
  text(fileName: string): string
  /** The publish report this build wrote where it goes by default: `<root>/node_modules/.cache/cdn-publish/`. */
  report<T = PublishReport>(): T
  /** The single output file whose name matches. */
  find(re: RegExp): string
}

/** Every file under `dir` (sorted relative POSIX paths), except below the directories named in `skip`. */
export function listFiles(dir: string, skip: string[] = []): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue
    const rel = path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/')
    if (skip.some((s) => rel === s || rel.startsWith(`${s}/`))) continue
    out.push(rel)
  }
  return out.sort()
}

/** Every file under `dir` (POSIX relative path → bytes). */
export function readOutDir(dir: string): Map<string, Buffer> {
  return new Map(listFiles(dir).map((rel) => [rel, readFileSync(path.join(dir, rel))]))
}

/** The publish report a build of the project in `root` wrote where it goes by default. */
export function readReport<T = PublishReport>(root: string): T {
  return JSON.parse(readFileSync(defaultReportPath(root), 'utf8')) as T
}

/** A finished build's output, checked to hold no internal token (of this plugin or the bundler) in any file. */
export function result(root: string, outDir: string, warnings: Log[], manifestName = 'cdn-manifest.json', viteWarnings: string[] = []): BuildResult {
  const files = readOutDir(outDir)
  expectNoInternalTokens({ files })
  const m = files.get(manifestName)
  return {
    outDir,
    files,
    warnings,
    viteWarnings,
    manifest: m ? JSON.parse(m.toString('utf8')) : undefined,
    report: () => readReport(root),
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

/** Run a real `vite build` of the app in `root`, with this plugin (`options`) and `config`. */
export async function viteBuild(
  vite: ViteName,
  root: string,
  options: CdnPublishOptions = {},
  config: Record<string, any> = {},
): Promise<BuildResult> {
  const { plugins = [], ...rest } = config
  return runVite(vite, root, { configFile: false, plugins: [cdnPublish(options), ...plugins], ...rest }, options.manifest === false ? undefined : options.manifest)
}

/**
 * Run a real `vite build` of the project in `root` with its own `vite.config.ts` (which brings
 * this plugin), in place: the output goes to `<work>/dist`, Vite's cache to `<work>/vite-cache`.
 */
export async function viteBuildProject(vite: ViteName, root: string, work: string): Promise<BuildResult> {
  return runVite(vite, root, { configFile: path.join(root, 'vite.config.ts'), cacheDir: path.join(work, 'vite-cache'), build: { outDir: path.join(work, 'dist') } })
}

/** A fresh empty directory under test/.tmp. */
export function tempDir(label: string): string {
  mkdirSync(tmpRoot, { recursive: true })
  return mkdtempSync(path.join(tmpRoot, `${label}-`))
}

async function runVite(vite: ViteName, root: string, config: Record<string, any>, manifestName?: string): Promise<BuildResult> {
  const { build } = await loadVite(vite)
  const warnings: Log[] = []
  const viteWarnings: string[] = []
  const { build: buildConfig = {}, customLogger, ...rest } = config
  const outDir = buildConfig.outDir ?? path.join(root, 'dist')
  await build({
    root,
    envDir: false,
    logLevel: 'silent',
    customLogger: recordingLogger(viteWarnings, customLogger) as never,
    ...rest,
    build: {
      emptyOutDir: true,
      ...buildConfig,
      outDir,
      rollupOptions: {
        ...buildConfig.rollupOptions,
        onwarn(warning: Log) {
          warnings.push(warning)
        },
      },
    },
  })
  return result(root, outDir, warnings, manifestName, viteWarnings)
}

/** A Vite logger that keeps the warnings in `into` and passes every call on to `inner`, when given. */
function recordingLogger(into: string[], inner: Record<string, any> | undefined): Record<string, unknown> {
  const warn = (name: 'warn' | 'warnOnce') => (msg: string, options?: unknown) => {
    // Vite colours some messages when the environment asks for colour (FORCE_COLOR, a TTY): compare the text.
    into.push(stripVTControlCharacters(msg).trim())
    inner?.[name]?.(msg, options)
  }
  return {
    info: (msg: string, options?: unknown) => inner?.info?.(msg, options),
    warn: warn('warn'),
    warnOnce: warn('warnOnce'),
    error: (msg: string, options?: unknown) => inner?.error?.(msg, options),
    clearScreen: (type: string) => inner?.clearScreen?.(type),
    hasErrorLogged: (error: unknown) => inner?.hasErrorLogged?.(error) ?? false,
    hasWarned: false,
  }
}

/** The codes of a build's warnings, in the order reported: this plugin's `pluginCode`, the bundler's `code`. */
export function codes(warnings: Log[] | BuildResult): string[] {
  return (Array.isArray(warnings) ? warnings : warnings.warnings).map((w) => String(w.pluginCode ?? w.code))
}

/**
 * The whole list of what a build warned about: the codes of the bundler's and plugins' warnings,
 * in the order reported, and (any order: Vite's own order follows its work) the warnings Vite
 * printed, as strings or matchers.
 */
export function expectWarnings(r: BuildResult, expected: { codes: string[]; vite?: unknown[] }): void {
  expect(codes(r), 'the warnings of the build').toEqual(expected.codes)
  const vite = expected.vite ?? []
  expect(r.viteWarnings, 'the warnings Vite printed').toEqual(expect.arrayContaining(vite))
  expect(r.viteWarnings, 'the warnings Vite printed').toHaveLength(vite.length)
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

/** Vite's own warning for a CSS `url()` it could not resolve (it leaves it as written). */
export const viteUnresolved = (url: string) => `${url} referenced in ${url} didn't resolve at build time, it will remain unchanged to be resolved at runtime`

/**
 * Vite's own warning for the basic fixture's `content: "url(/img/not-a-ref.png)"`: Vite looks for
 * `url(` in the stylesheet's text, strings included, and warns that this "reference" did not
 * resolve (it leaves the string alone, as it must).
 */
export const VITE_WARNS_STRING_URL = viteUnresolved('/img/not-a-ref.png')

/**
 * The `transform` pass over stylesheets (Vite only): what to do with each `url()` reference before
 * Vite sees it, and the hook body that applies those decisions to one stylesheet module.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { KEEP_TOKEN_PREFIX, KEEP_TOKEN_RE, type BuildContext } from './context.js'
import { findCssRefs, isExternalOrSpecialUrl, spliceCssRefs, splitUrlSuffix, type CssRef, type RewriteResult } from './css-urls.js'
import { decodeUrlPath } from './names.js'
import { CSS_SYNTAX_RE, SKIP_QUERY_RE } from './filter.js'
import { isTextFile, setText, textOf, type Bundle } from './outputs.js'
import type { Context } from './types.js'

/** Characters that a URL Vite writes unquoted into CSS cannot contain. */
const PLAIN_URL_RE = /^[\w./~@+-]*$/
/** The placeholder Vite replaces with the URL of an emitted file (`__VITE_ASSET__<ref>__`). */
const ASSET_PLACEHOLDER_RE = /^__VITE_ASSET__[\w$]+__/


/**
 * What the transform pass does with one stylesheet reference: a replacement (a fingerprinted
 * public file's placeholder, or a keep-as-written token), or `undefined` to leave it to Vite.
 */
export async function classifyRef(
  build: BuildContext,
  ctx: Context,
  ref: CssRef,
  id: string,
  file: string,
  where: string,
): Promise<string | undefined> {
  if (ref.isImport || isExternalOrSpecialUrl(ref.url)) return undefined
  const { path: p, suffix } = splitUrlSuffix(ref.url)
  if (p === '') {
    if (!suffix.startsWith('?')) return undefined
    build.report(ctx, where, ref, file, 'names only a query, which means the stylesheet itself')
    return build.keepAsWritten(ref.url)
  }
  const decoded = decodeUrlPath(p)
  if (decoded.startsWith('/')) {
    const rel = build.publicFile(decoded)
    if (rel) {
      if (!build.opts.fingerprintPublic) return undefined
      const f = build.fingerprint(rel)
      // Names Vite would write unquoted-unsafe go through the output pass instead.
      if (!PLAIN_URL_RE.test(f.fileName)) return undefined
      return `__VITE_ASSET__${build.emitFingerprinted(ctx, rel).ref}__${suffix}`
    }
  }
  // the file on disk the reference names: in the project (root-absolute), next to the
  // stylesheet (relative), or wherever the bundler resolves it (aliases, packages)
  const near = decoded.startsWith('/') ? path.join(build.vite!.root, decoded) : path.resolve(path.dirname(file), decoded)
  let target = existsSync(near) ? near : undefined
  if (target === undefined) {
    const resolved = await ctx.resolve(p, id)
    if (!resolved) {
      build.report(ctx, where, ref, file)
      return undefined
    }
    const resolvedFile = resolved.id.replace(/[?#].*$/, '')
    if (!resolved.external && path.isAbsolute(resolvedFile) && existsSync(resolvedFile)) target = resolvedFile
  }
  if (target !== undefined && !build.isAllowed(target)) {
    build.report(ctx, where, ref, file, `resolves to ${target}, outside the project (Vite's server.fs.allow), and is not copied into the output`)
    return build.keepAsWritten(ref.url)
  }
  return undefined
}

/**
 * The transform hook's body for one module: `null` when the module is not a client stylesheet of
 * a Vite build or nothing in it changes.
 */
export async function transformCss(
  build: BuildContext,
  ctx: Context,
  code: string,
  id: string,
): Promise<{ code: string; map: RewriteResult['map'] } | null> {
  const vite = build.vite
  if (!vite || vite.command !== 'build' || (build.isSsr(ctx) && !build.serverStylesheets)) return null
  // the filter again, for hosts that do not apply hook filters
  if (id.startsWith('\0') || !CSS_SYNTAX_RE.test(id) || SKIP_QUERY_RE.test(id)) return null
  const file = id.replace(/[?#].*$/, '')
  const where = path.relative(vite.root, file)
  // Vite 6 (which has no `meta.viteVersion`) resolves the strings of `image-set()` itself, a
  // placeholder too ("… didn't resolve at build time"): there they are left to the output pass.
  const vite6 = ctx.meta.viteVersion === undefined
  const replacements = new Map<number, string>()
  // one scan: the references found here are the ones rewritten below
  const refs = findCssRefs(code)
  for (const ref of refs) {
    build.readInSources.add(ref.url)
    if (vite6 && ref.kind === 'string') continue
    const replacement = await classifyRef(build, ctx, ref, id, file, where)
    if (replacement !== undefined) replacements.set(ref.start, replacement)
  }
  // Vite 7 and later leave `url(__VITE_ASSET__…)` to their output pass; Vite 6 tries to resolve
  // it as a file and warns that it "didn't resolve". Its url() rewriting matches the lowercase
  // name only, so there the placeholder is written as `URL(…)`, the same CSS function, which
  // Vite 6 leaves alone until it replaces the placeholder.
  const result = spliceCssRefs(
    code,
    refs,
    (ref) => replacements.get(ref.start) ?? false,
    // a source map only when the build writes them: generating one is most of this hook's cost
    {
      lowercaseUrlFunctions: true,
      ...(vite6 ? { urlFunction: (ref: CssRef) => (ASSET_PLACEHOLDER_RE.test(replacements.get(ref.start) ?? '') ? 'URL' : undefined) } : {}),
      sourcemap: Boolean(vite.build.sourcemap),
      filename: file,
    },
  )
  return result.changed ? { code: result.code, map: result.map } : null
}

/** What a kept reference may hold as written in any CSS context: the rest is written as a CSS escape. */
const CSS_SAFE_RE = /[^\w./~@+?=&%:,;!*$-]/gu
/** Output files where a kept reference sits in a string literal: scripts (`?inline` CSS), JSON and source maps. */
const SCRIPT_RE = /\.(?:[cm]?js|json|map)$/

/**
 * Put every reference the transform hid from Vite (`keepAsWritten`) back as written, in every
 * output file of the bundle: stylesheets, pages, and scripts, where `?inline` CSS is a string
 * literal. The URL is written with CSS escapes for whatever a quoted or unquoted `url()` cannot
 * hold as is, and in scripts with its backslashes escaped for the literal (which may be quoted
 * either way, or a template). Returns the files that changed.
 */
export function restoreKeptReferences(build: BuildContext, bundle: Bundle): Set<string> {
  const changed = new Set<string>()
  if (build.kept.size === 0) return changed
  for (const entry of Object.values(bundle)) {
    if (entry.type === 'asset' && !isTextFile(entry.fileName)) continue
    const text = textOf(entry)
    if (text === undefined || !text.includes(KEEP_TOKEN_PREFIX)) continue
    const script = entry.type === 'chunk' || SCRIPT_RE.test(entry.fileName)
    const restored = text.replace(KEEP_TOKEN_RE, (token) => {
      const url = build.kept.get(token)
      if (url === undefined) return token
      const css = url.replace(CSS_SAFE_RE, (c) => `\\${c.codePointAt(0)!.toString(16)} `)
      return script ? css.replaceAll('\\', '\\\\') : css
    })
    if (restored !== text) {
      setText(entry, restored)
      changed.add(entry.fileName)
    }
  }
  return changed
}

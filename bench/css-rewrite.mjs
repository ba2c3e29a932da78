// Throughput of findCssRefs + rewriteCssRefs on real stylesheets, against a regex baseline in the
// style of Vite's CSS url() rewriting. Build first: npx tsc -p tsconfig.build.json
// Usage: node bench/css-rewrite.mjs [rounds]
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const modulePath = join(root, 'dist/build/css-urls.js')
if (!existsSync(modulePath)) {
  console.error(`missing ${relative(root, modulePath)}: run \`npx tsc -p tsconfig.build.json\` first`)
  process.exit(1)
}
const { rewriteCssRefs, isExternalOrSpecialUrl } = await import(modulePath)

const require = createRequire(join(root, 'package.json'))
const dirOf = (pkg) => dirname(require.resolve(`${pkg}/package.json`))
const candidates = [
  join(dirOf('bootstrap'), 'dist/css/bootstrap.css'),
  join(dirOf('bootstrap'), 'dist/css/bootstrap.min.css'),
  join(dirOf('bootstrap'), 'dist/css/bootstrap-grid.css'),
  join(dirOf('bootstrap'), 'dist/css/bootstrap-utilities.css'),
  join(dirOf('@fortawesome/fontawesome-free'), 'css/all.css'),
  join(dirOf('@fortawesome/fontawesome-free'), 'css/all.min.css'),
]
const corpus = candidates.filter((f) => existsSync(f)).map((f) => ({ file: relative(root, f), css: readFileSync(f, 'utf8') }))
if (corpus.length === 0) {
  console.error('no stylesheets found in node_modules (bootstrap, @fortawesome/fontawesome-free)')
  process.exit(1)
}
const bytes = corpus.reduce((sum, c) => sum + Buffer.byteLength(c.css), 0)
const rounds = Math.max(3, Number(process.argv[2]) || 15)

// Rewrites every relative reference to a different string.
const replacer = (ref) => (isExternalOrSpecialUrl(ref.url) ? false : `assets/${ref.url}`)

function ours() {
  let refs = 0
  for (const { css } of corpus) {
    const result = rewriteCssRefs(css, (ref) => {
      refs++
      return replacer(ref)
    })
    sink ^= result.code.length
  }
  return refs
}

const viteUrlRE = /(?<=^|[^\w\-\u0080-\uffff])url\((\s*('[^']+'|"[^"]+")\s*|(?:\\.|[^'")\\])+)\)/g
const external = /^(?:[a-z][a-z\d+.-]*:|\/\/|#)/i
function baseline() {
  let refs = 0
  for (const { css } of corpus) {
    let at = css.indexOf('url(')
    while (at !== -1) at = css.indexOf('url(', at + 4)
    const code = css.replace(viteUrlRE, (match, inner) => {
      refs++
      const value = inner.trim()
      const quote = value[0] === '"' || value[0] === "'" ? value[0] : ''
      const url = quote ? value.slice(1, -1) : value
      return external.test(url) ? match : `url(${quote}assets/${url}${quote})`
    })
    sink ^= code.length
  }
  return refs
}

let sink = 0
function measure(fn) {
  const minMs = 200
  // Warm-up.
  for (let t = performance.now(); performance.now() - t < 300; ) fn()
  const rates = []
  for (let r = 0; r < rounds; r++) {
    let iterations = 0
    const t0 = performance.now()
    let elapsed = 0
    do {
      fn()
      iterations++
      elapsed = performance.now() - t0
    } while (elapsed < minMs)
    rates.push((bytes * iterations) / (elapsed / 1000) / 1e6)
  }
  rates.sort((a, b) => a - b)
  return rates[rates.length >> 1]
}

const refsOurs = ours()
const refsBaseline = baseline()
console.log(`node ${process.version}, ${rounds} rounds, median MB/s (1 MB = 10^6 bytes)`)
for (const { file, css } of corpus) console.log(`  ${file}: ${(Buffer.byteLength(css) / 1024).toFixed(1)} KiB`)
console.log(`corpus size:  ${(bytes / 1e6).toFixed(3)} MB in ${corpus.length} files`)
console.log(`refs found:   ours ${refsOurs}, baseline regex ${refsBaseline}`)
const a = measure(ours)
const b = measure(baseline)
console.log(`ours:         ${a.toFixed(1)} MB/s (findCssRefs + rewriteCssRefs)`)
console.log(`baseline:     ${b.toFixed(1)} MB/s (indexOf('url(') scan + regex replace)`)
console.log(`ratio:        ${(a / b).toFixed(2)}x (ours / baseline)`)
console.log(`target:       >= 150 MB/s ${a >= 150 ? 'PASS' : 'FAIL'}`)
if (sink === 0.5) console.log(sink)

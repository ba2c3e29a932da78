// Build-time overhead of the plugin: real `vite build`s of a synthetic app, with and without the
// plugin, alternately in one process. Build the plugin first: npm run build
//
//   node bench/build-overhead.mjs [--rounds N] [--vite 8|7] [--out-dir DIR] [--public-off] [--plugin DIR]
//
// The app (generated into bench/.tmp/build-overhead/) has 3,000 JS modules in an import tree with
// dynamic imports (so several chunks), 60 stylesheets imported from modules, and 600 PNG images:
// 300 under src/img/ referenced relatively from the stylesheets, 300 under public/img/ referenced
// as /img/... (a few also from index.html). Each round builds it once with the plugin and once
// without, in an order that turns every round; the first round is a warm-up and is discarded.
// Prints every round, the medians and the median of the per-round ratios with/without (target
// ≤ 1.10 with the default options, which fingerprint the 300 public images). --public-off adds a
// third build to every round, with `fingerprint: { public: false }`, and prints its ratio too
// (target ≤ 1.03). The builds write to out-with/, out-public-off/ and out-without/ under
// bench/.tmp/build-overhead/, or under --out-dir (a RAM disk such as /dev/shm takes the file
// system's own noise out of the figures).
// --plugin DIR measures the compiled plugin in DIR instead of dist/ (an earlier build, to compare).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { deflateSync } from 'node:zlib'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
/** Targets of the ratio with/without: default options, and `fingerprint: { public: false }`. */
const TARGET = { default: 1.1, publicOff: 1.03 }

// ---------------------------------------------------------------------------------------------
// arguments

const USAGE = 'usage: node bench/build-overhead.mjs [--rounds N] [--vite 8|7] [--out-dir DIR] [--public-off] [--plugin DIR]'

function parseArgs(argv) {
  const args = { rounds: 7, vite: '8', outDir: undefined, plugin: join(root, 'dist'), publicOff: false }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2)
    const value = () => inline ?? argv[++i]
    if (flag === '--rounds') args.rounds = Number(value())
    else if (flag === '--vite') args.vite = String(value())
    else if (flag === '--out-dir') args.outDir = resolve(String(value()))
    else if (flag === '--plugin') args.plugin = resolve(String(value()))
    else if (flag === '--public-off') args.publicOff = true
    else if (flag === '--help' || flag === '-h') {
      console.log(USAGE)
      process.exit(0)
    } else {
      console.error(`unknown argument ${argv[i]}\n${USAGE}`)
      process.exit(1)
    }
  }
  if (!Number.isInteger(args.rounds) || args.rounds < 2) {
    console.error('--rounds must be an integer ≥ 2 (the first round is a warm-up)')
    process.exit(1)
  }
  if (args.vite !== '8' && args.vite !== '7') {
    console.error('--vite must be 8 or 7')
    process.exit(1)
  }
  return args
}

// ---------------------------------------------------------------------------------------------
// synthetic app

const MODULES = 3000
const STYLESHEETS = 60
const IMAGES_PER_KIND = 300 // src/img/ and public/img/ each
const FANOUT = 5

let seed = 0x2545f491
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 0x1000000

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32(buf) {
  let c = 0xffffffff
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
function pngChunk(type, data) {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'ascii')
  data.copy(out, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}
/** A small valid RGB PNG of noise over a base colour (1–7 KB, some under Vite's 4 KB inline limit). */
function png() {
  const w = 20 + Math.floor(rand() * 28)
  const h = 20 + Math.floor(rand() * 28)
  const base = [rand() * 200, rand() * 200, rand() * 200]
  const raw = Buffer.alloc((w * 3 + 1) * h)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) raw[y * (w * 3 + 1) + 1 + x * 3 + c] = base[c] + rand() * 55
    }
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr.set([8, 2, 0, 0, 0], 8)
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ])
}

const modPath = (i) => `src/mods/d${String(Math.floor(i / 100)).padStart(2, '0')}/m${i}.js`
const cssPath = (k) => `src/styles/s${k}.css`
const importPath = (from, to) => {
  const rel = relative(dirname(from), to).split('\\').join('/')
  return rel.startsWith('.') ? rel : `./${rel}`
}

function generateApp(app) {
  rmSync(app, { recursive: true, force: true })
  const files = new Map()
  const add = (rel, content) => files.set(rel, content)

  for (let j = 0; j < IMAGES_PER_KIND; j++) {
    add(`src/img/a${j}.png`, png())
    add(`public/img/p${j}.png`, png())
  }
  add('public/robots.txt', 'User-agent: *\nAllow: /\n')

  // Stylesheets: 5 relative and 5 public references each, in the usual spellings.
  for (let k = 0; k < STYLESHEETS; k++) {
    const a = (n) => `../img/a${k * 5 + n}.png`
    const p = (n) => `/img/p${k * 5 + n}.png`
    add(
      cssPath(k),
      `.s${k} { color: #${(0x100000 + k * 4099).toString(16).slice(-6)}; padding: ${k % 7}px; }
.s${k}-hero { background: #fff url(${p(0)}) center / cover no-repeat; min-height: 120px; }
.s${k}-icon { background-image: url("${a(0)}"); width: 24px; height: 24px; }
.s${k}-card { background: url('${p(1)}') repeat-x, url(${a(1)}) no-repeat; border-radius: 4px; }
.s${k}-hd { background-image: image-set(url(${p(2)}) 1x, url(${a(2)}) 2x); }
.s${k}-badge { background: url(${a(3)}); }
.s${k}-tile { list-style-image: url(${p(3)}); margin: 0 ${k % 5}px; }
.s${k}-mask { mask-image: url(${a(4)}); -webkit-mask-image: url(${a(4)}); }
.s${k}-foot { background: url(${p(4)}), url(https://cdn.example.com/x${k}.png), url(data:image/gif;base64,R0lGODlhAQABAAAAACw=); }
@media (min-width: ${600 + k}px) { .s${k} { display: grid; gap: ${k % 9}px; } }
`,
    )
  }

  // Modules: a 5-ary import tree; some edges are dynamic imports (separate chunks), some modules
  // also import a shared module (shared chunks) or a stylesheet.
  const children = Array.from({ length: MODULES }, () => [])
  for (let i = 1; i < MODULES; i++) children[Math.floor((i - 1) / FANOUT)].push(i)
  // routes: some depth-2 subtrees (about 150 modules each) and some small leaves deeper down
  const isDynamic = (i) => (i >= 6 && i <= 30 && i % 3 === 0) || (i > 30 && i % 61 === 1)
  const cssOf = new Map()
  for (let k = 0; k < STYLESHEETS; k++) cssOf.set(Math.floor((k * MODULES) / STYLESHEETS) + 7, k)
  const SHARED = 25
  for (let s = 0; s < SHARED; s++) {
    add(
      `src/shared/u${s}.js`,
      `export const label${s} = 'shared-${s}-' + ${JSON.stringify('x'.repeat(40 + s))}
export function util${s}(n) {
  let acc = ${s}
  for (let i = 0; i < (n % 17); i++) acc = (acc * 31 + i) % 1000003
  return label${s}.length + acc
}
`,
    )
  }
  for (let i = 0; i < MODULES; i++) {
    const me = modPath(i)
    const lines = []
    const calls = []
    for (const c of children[i]) {
      if (isDynamic(c)) {
        lines.push(`const load${c} = () => import('${importPath(me, modPath(c))}')`)
        calls.push(`(n > 1e12 ? load${c}().then((m) => m.f${c}(n)) : 0)`)
      } else {
        lines.push(`import { f${c} } from '${importPath(me, modPath(c))}'`)
        calls.push(`f${c}(n + ${c})`)
      }
    }
    if (i % 7 === 3) {
      const s = i % SHARED
      lines.push(`import { util${s} } from '${importPath(me, `src/shared/u${s}.js`)}'`)
      calls.push(`util${s}(n)`)
    }
    if (cssOf.has(i)) lines.push(`import '${importPath(me, cssPath(cssOf.get(i)))}'`)
    const words = Array.from({ length: 6 }, (_, w) => `'w${i}-${w}-${Math.floor(rand() * 1e9).toString(36)}'`)
    lines.push(
      `const words${i} = [${words.join(', ')}]`,
      `export function f${i}(n) {`,
      `  let total = ${i}`,
      `  for (const w of words${i}) total += w.length * (n % 13)`,
      `  if (n % 5 === ${i % 5}) total ^= ${Math.floor(rand() * 0xffff)}`,
      `  return total${calls.length ? ` + ${calls.join(' + ')}` : ''}`,
      `}`,
      `export const name${i} = 'module-${i}'`,
    )
    add(me, `${lines.join('\n')}\n`)
  }
  add('src/main.js', `import { f0 } from './mods/d00/m0.js'\ndocument.body.dataset.total = String(f0(Date.now() % 1000))\n`)

  const imgs = Array.from({ length: 8 }, (_, j) => `    <img src="/img/p${j * 30}.png" alt="" width="32" height="32">`)
  add(
    'index.html',
    `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>build overhead</title>
    <link rel="icon" href="/img/p299.png">
    <script type="module" src="/src/main.js"></script>
  </head>
  <body>
${imgs.join('\n')}
    <img src="/img/p1.png" srcset="/img/p1.png 1x, /img/p2.png 2x" alt="">
  </body>
</html>
`,
  )

  for (const [rel, content] of files) {
    const file = join(app, rel)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, content)
  }
  return files.size
}

// ---------------------------------------------------------------------------------------------
// measurement

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function countFiles(dir) {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1
  return n
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const pluginPath = join(args.plugin, 'index.js')
  if (!existsSync(pluginPath)) {
    console.error(`missing ${relative(root, pluginPath)}: run \`npm run build\` first`)
    process.exit(1)
  }
  // Never publish from a benchmark, whatever the environment says.
  for (const name of Object.keys(process.env)) if (name.startsWith('CDN_PUBLISH_')) delete process.env[name]

  const { default: cdnPublish } = await import(pluginPath)
  const vite = await import(args.vite === '7' ? 'vite7' : 'vite')
  // A full collection between builds, so one build's garbage is not collected during the next.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc')

  const work = join(root, 'bench/.tmp/build-overhead')
  const app = join(work, 'app')
  const t0 = performance.now()
  const fileCount = generateApp(app)
  console.log(
    `app: ${MODULES} modules, ${STYLESHEETS} stylesheets, ${IMAGES_PER_KIND * 2} images (${fileCount} files) in ` +
      `${relative(root, app)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  )
  console.log(`vite ${vite.version}, node ${process.version}, plugin ${relative(root, args.plugin) || '.'}, ${args.rounds} rounds (round 1 is a warm-up and is discarded)`)

  const outBase = args.outDir ?? work
  /** The builds of every round, in order: name, plugins, output directory. */
  const variants = [
    { name: 'with', plugins: () => [cdnPublish()] },
    ...(args.publicOff ? [{ name: 'public-off', plugins: () => [cdnPublish({ fingerprint: { public: false } })] }] : []),
    { name: 'without', plugins: () => [] },
  ].map((v) => ({ ...v, outDir: join(outBase, `out-${v.name}`) }))
  const shown = relative(root, outBase)
  console.log(`output: ${shown.startsWith('..') ? outBase : shown}/out-{${variants.map((v) => v.name).join(',')}}\n`)
  const build = async (variant) => {
    gc()
    const cpu = process.cpuUsage()
    const start = performance.now()
    await vite.build({
      root: app,
      configFile: false,
      logLevel: 'silent',
      plugins: variant.plugins(),
      build: { outDir: variant.outDir, emptyOutDir: true },
    })
    const ms = performance.now() - start
    const used = process.cpuUsage(cpu)
    return { ms, cpuMs: (used.user + used.system) / 1000 }
  }

  const rows = []
  for (let r = 1; r <= args.rounds; r++) {
    const t = {}
    // the order turns every round, so that no variant always runs right after the same one
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(k + r) % variants.length]
      t[v.name] = await build(v)
    }
    const without = t.without
    const row = { t, ratio: {}, cpuRatio: {} }
    for (const v of variants) {
      row.ratio[v.name] = t[v.name].ms / without.ms
      row.cpuRatio[v.name] = t[v.name].cpuMs / without.cpuMs
    }
    if (r > 1) rows.push(row)
    const cells = variants.map((v) => `${v.name} ${t[v.name].ms.toFixed(0).padStart(6)} ms`).join('  ')
    const ratios = variants
      .filter((v) => v.name !== 'without')
      .map((v) => `${v.name} ${row.ratio[v.name].toFixed(3)} (cpu ${row.cpuRatio[v.name].toFixed(3)})`)
      .join('  ')
    console.log(`round ${String(r).padStart(2)}${r === 1 ? ' (warm-up)' : '          '}  ${cells}   ratio ${ratios}`)
  }

  console.log(`\nmedian      ${variants.map((v) => `${v.name} ${median(rows.map((r) => r.t[v.name].ms)).toFixed(0).padStart(6)} ms`).join('  ')}  (${rows.length} rounds)`)
  for (const v of variants) {
    if (v.name === 'without') continue
    const target = v.name === 'with' ? TARGET.default : TARGET.publicOff
    const medRatio = median(rows.map((r) => r.ratio[v.name]))
    const options = v.name === 'with' ? 'default options' : 'fingerprint: { public: false }'
    console.log(`${v.name} (${options}): median of per-round ratios ${v.name}/without: ${medRatio.toFixed(3)} (${((medRatio - 1) * 100).toFixed(1)} %)`)
    console.log(`  target ≤ ${target.toFixed(2)}: ${medRatio <= target ? 'PASS' : 'FAIL'}`)
    console.log(`  (for information: process CPU time of all threads, median of per-round ratios ${median(rows.map((r) => r.cpuRatio[v.name])).toFixed(3)})`)
  }
  const outDirs = Object.fromEntries(variants.map((v) => [v.name, v.outDir]))

  const manifest = JSON.parse(readFileSync(join(outDirs.with, 'cdn-manifest.json'), 'utf8'))
  const aliases = Object.keys(manifest.aliases ?? {})
  console.log(
    `\noutput files: with ${countFiles(outDirs.with)}, without ${countFiles(outDirs.without)}; ` +
      `public images fingerprinted (cdn-manifest.json aliases): ${aliases.filter((a) => a.startsWith('img/')).length} of ${IMAGES_PER_KIND}` +
      `; manifest lists ${Array.isArray(manifest.files) ? manifest.files.length : Object.keys(manifest.files ?? {}).length} files`,
  )
  if (outDirs['public-off']) {
    const off = JSON.parse(readFileSync(join(outDirs['public-off'], 'cdn-manifest.json'), 'utf8'))
    console.log(
      `public-off: output files ${countFiles(outDirs['public-off'])}; public images fingerprinted: ${Object.keys(off.aliases).length}; manifest lists ${Object.keys(off.files).length} files`,
    )
  }
}

await main()

// Import cost of the plugin against importing Vite itself, each in a fresh Node process,
// alternately, in the same run. Build the plugin first: npm run build
//
//   node bench/import.mjs [--rounds N]
//
// Each round starts `node` twice: once importing the plugin's entry (dist/index.js, what a
// vite.config loads) and once importing `vite`; the time measured is the import alone, from
// inside the process (performance.now() around `await import()`), so Node's own start-up is out
// of both. Round 1 is a warm-up (file cache) and is not counted. Prints each round, the medians
// and the median of the per-round ratios plugin/vite against the target (≤ 0.15).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const TARGET = 0.15
const plugin = join(root, 'dist/index.js')
if (!existsSync(plugin)) {
  console.error('missing dist/index.js: run `npm run build` first')
  process.exit(1)
}

const i = process.argv.indexOf('--rounds')
const rounds = i > 0 ? Number(process.argv[i + 1]) : 15
if (!Number.isInteger(rounds) || rounds < 2) {
  console.error('usage: node bench/import.mjs [--rounds N] (N >= 2)')
  process.exit(2)
}

/** Milliseconds `import(specifier)` takes in a fresh process started in the repository. */
function importMs(specifier) {
  const code = `const t = performance.now(); await import(${JSON.stringify(specifier)}); console.log(performance.now() - t)`
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' }).trim())
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const rows = []
for (let r = 0; r < rounds; r++) {
  const ours = importMs(pathToFileURL(plugin).href)
  const vite = importMs('vite')
  const ratio = ours / vite
  console.log(`round ${String(r + 1).padStart(2)}: plugin ${ours.toFixed(1)} ms, vite ${vite.toFixed(1)} ms, ratio ${ratio.toFixed(3)}${r === 0 ? ' (warm-up, not counted)' : ''}`)
  if (r > 0) rows.push({ ours, vite, ratio })
}
const ratio = median(rows.map((x) => x.ratio))
console.log(`median: plugin ${median(rows.map((x) => x.ours)).toFixed(1)} ms, vite ${median(rows.map((x) => x.vite)).toFixed(1)} ms`)
console.log(`import ratio plugin/vite ${ratio.toFixed(3)} (target ≤ ${TARGET}): ${ratio <= TARGET ? 'PASS' : 'FAIL'}`)

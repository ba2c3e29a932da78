// Compile-time check (run by `npm run typecheck`): the plugin object fits the plugin types of
// Vite 8, Vite 7 and Rollup 4 without casts.
import type { Plugin as RollupPlugin } from 'rollup'
import type { Plugin as Vite8Plugin, UserConfig } from 'vite'
import type { Plugin as Vite7Plugin } from 'vite7'
import cdnPublish, { cdnPublish as named, type CdnManifest, type CdnPublishOptions } from '../src/index.js'

const options: CdnPublishOptions = { fingerprint: { public: true, hashLength: 10 }, manifest: 'cdn-manifest.json', strict: false }
export const vite8: Vite8Plugin = cdnPublish(options)
export const vite7: Vite7Plugin = named()
export const rollup: RollupPlugin = cdnPublish({ publicDir: 'public', base: '/' })
export const config: UserConfig = { plugins: [cdnPublish()] }
export const release = (m: CdnManifest): string => m.release

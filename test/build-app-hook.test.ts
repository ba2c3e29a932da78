/**
 * `afterBuildAppOf` (src/after-build.ts): how the plugin publishes after a framework's own
 * `buildApp` hook (SvelteKit 3's adapter), whichever of the hook's forms that plugin uses.
 */
import { describe, expect, test } from 'vitest'
import { afterBuildAppOf } from '../src/after-build.js'

describe('afterBuildAppOf', () => {
  test('runs after the named plugin’s object hook, with its this and arguments', async () => {
    const order: string[] = []
    const adapter = { name: 'adapter', buildApp: { order: 'post', async handler(this: unknown, b: string) { order.push(`adapt ${b} ${this === ctx}`) } } }
    const ctx = {}
    expect(afterBuildAppOf([{ name: 'other' }, adapter], 'adapter', async () => void order.push('publish'))).toBe(true)
    await adapter.buildApp.handler.call(ctx, 'builder')
    expect(order).toEqual(['adapt builder true', 'publish'])
  })

  test('a function hook, and a failing hook publishes nothing', async () => {
    const order: string[] = []
    const plugin: { name: string; buildApp: (...a: unknown[]) => unknown } = { name: 'p', buildApp: async () => void order.push('hook') }
    expect(afterBuildAppOf([plugin], 'p', async () => void order.push('publish'))).toBe(true)
    await plugin.buildApp()
    expect(order).toEqual(['hook', 'publish'])
    const failing = { name: 'f', buildApp: { handler: async () => { throw new Error('adapter failed') } } }
    afterBuildAppOf([failing], 'f', async () => void order.push('never'))
    await expect(failing.buildApp.handler()).rejects.toThrow('adapter failed')
    expect(order).not.toContain('never')
  })

  test('false without such a plugin or hook (SvelteKit 2 has no adapter plugin)', () => {
    expect(afterBuildAppOf([{ name: 'vite-plugin-sveltekit-compile' }], 'vite-plugin-sveltekit-adapter', async () => {})).toBe(false)
    expect(afterBuildAppOf([{ name: 'vite-plugin-sveltekit-adapter' }], 'vite-plugin-sveltekit-adapter', async () => {})).toBe(false)
  })
})

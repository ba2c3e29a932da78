import { expect } from 'vitest'

/** Fail the test when `text` (`where` says what it is) contains any of `secrets`. */
export function assertNoSecrets(secrets: Iterable<string>, where: string, text: string): void {
  for (const s of secrets) expect(text.includes(s), `${where} contains a credential`).toBe(false)
}

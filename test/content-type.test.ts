/** The Content-Type each output file is stored with, for the extensions a web build ships. */
import { describe, expect, test } from 'vitest'
import { contentTypeOf } from '../src/build/content-type.js'

const UTF8 = '; charset=utf-8'

const table: [string, string][] = [
  // pages, scripts, styles, data
  ['index.html', `text/html${UTF8}`],
  ['legacy.htm', `text/html${UTF8}`],
  ['page.xhtml', `application/xhtml+xml${UTF8}`],
  ['assets/app-1a2b3c4d.js', `text/javascript${UTF8}`],
  ['worker.mjs', `text/javascript${UTF8}`],
  ['server.cjs', `text/javascript${UTF8}`],
  ['src/main.ts', `text/plain${UTF8}`],
  ['src/mod.mts', `text/plain${UTF8}`],
  ['src/mod.cts', `text/plain${UTF8}`],
  ['src/App.tsx', `text/plain${UTF8}`],
  ['src/App.jsx', `text/jsx${UTF8}`],
  ['assets/style.css', `text/css${UTF8}`],
  ['data.json', `application/json${UTF8}`],
  ['assets/app.js.map', `application/json${UTF8}`],
  ['site.webmanifest', `application/manifest+json${UTF8}`],
  ['schema.jsonld', `application/ld+json${UTF8}`],
  ['robots.txt', `text/plain${UTF8}`],
  ['sitemap.xml', `application/xml${UTF8}`],
  ['feed.rss', `application/rss+xml${UTF8}`],
  ['feed.atom', `application/atom+xml${UTF8}`],
  ['table.csv', `text/csv${UTF8}`],
  ['README.md', `text/markdown${UTF8}`],
  ['config.yaml', `text/yaml${UTF8}`],
  ['config.yml', `text/yaml${UTF8}`],
  ['captions.vtt', `text/vtt${UTF8}`],
  ['event.ics', `text/calendar${UTF8}`],
  ['app.wasm', 'application/wasm'],
  // images: SVG is XML but an image type, stored without a charset as before
  ['logo.svg', 'image/svg+xml'],
  ['a.png', 'image/png'],
  ['a.apng', 'image/apng'],
  ['a.jpg', 'image/jpeg'],
  ['a.jpeg', 'image/jpeg'],
  ['a.gif', 'image/gif'],
  ['a.webp', 'image/webp'],
  ['a.avif', 'image/avif'],
  ['favicon.ico', 'image/x-icon'],
  ['pointer.cur', 'image/x-icon'],
  ['a.bmp', 'image/bmp'],
  ['scan.tiff', 'image/tiff'],
  ['scan.tif', 'image/tiff'],
  ['photo.heic', 'image/heic'],
  ['photo.heif', 'image/heif'],
  ['photo.jxl', 'image/jxl'],
  // fonts
  ['f.woff', 'font/woff'],
  ['f.woff2', 'font/woff2'],
  ['f.ttf', 'font/ttf'],
  ['f.otf', 'font/otf'],
  ['f.eot', 'application/vnd.ms-fontobject'],
  // audio and video
  ['clip.mp4', 'video/mp4'],
  ['clip.webm', 'video/webm'],
  ['clip.ogv', 'video/ogg'],
  ['clip.mov', 'video/quicktime'],
  ['sound.ogg', 'audio/ogg'],
  ['sound.mp3', 'audio/mpeg'],
  ['sound.m4a', 'audio/mp4'],
  ['sound.aac', 'audio/aac'],
  ['sound.flac', 'audio/flac'],
  ['sound.wav', 'audio/wav'],
  // 3D models, documents, archives
  ['scene.glb', 'model/gltf-binary'],
  ['scene.gltf', 'model/gltf+json'],
  ['doc.pdf', 'application/pdf'],
  ['book.epub', 'application/epub+zip'],
  ['bundle.zip', 'application/zip'],
  ['data.json.gz', 'application/gzip'],
  ['blob.bin', 'application/octet-stream'],
]

describe('contentTypeOf', () => {
  test.each(table)('%s → %s', (file, type) => {
    expect(contentTypeOf(file)).toBe(type)
  })

  test('the extension decides, in any case, after the last dot of the last segment', () => {
    expect(contentTypeOf('IMG/PHOTO.JPG')).toBe('image/jpeg')
    expect(contentTypeOf('a.min.Js')).toBe(`text/javascript${UTF8}`)
    expect(contentTypeOf('styles.css/readme')).toBe('application/octet-stream')
  })

  test('no extension, an unknown one, or a name of Object.prototype: application/octet-stream', () => {
    for (const f of ['LICENSE', 'a.', '.htaccess', 'a.unknownext', 'a.constructor', 'a.__proto__', 'a.toString', 'a.hasOwnProperty']) {
      expect(contentTypeOf(f), f).toBe('application/octet-stream')
    }
  })
})

import './style.css'

const view = document.querySelector('#view')

// What a deployed app does when a lazy chunk of its release is gone (retention set too short):
// Vite fires `vite:preloadError`; a real app would call `window.location.reload()` here to load
// the current release, or publish with `skewGuard` and let the guard reload once. This
// playground records it, so a test can see it happen.
window.addEventListener('vite:preloadError', (event) => {
  document.body.dataset.preloadError = String(event.payload?.message ?? event.payload)
  view.textContent = `This page is out of date (${document.body.dataset.preloadError}); a real app reloads here.`
})

document.querySelector('#open').addEventListener('click', async () => {
  try {
    const route = await import('./routes/report.js')
    route.show(view)
  } catch (err) {
    document.body.dataset.importError = err.message
  }
})

import './style.css'

const app = document.querySelector<HTMLDivElement>('#app')!

app.innerHTML = `
  <p class="dot">Public images in CSS and HTML get fingerprinted copies.</p>
  <button type="button" id="load">Open the lazy route</button>
  <div id="route"></div>
`

document.querySelector<HTMLButtonElement>('#load')!.addEventListener('click', async () => {
  const { render } = await import('./routes/lazy.ts')
  render(document.querySelector<HTMLDivElement>('#route')!)
})

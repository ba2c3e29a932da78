import './lazy.css'

export function render(el: HTMLElement): void {
  el.innerHTML = `<p class="lazy">Loaded on demand, with its own stylesheet.</p>`
}

import './lazy.css'

export default function Lazy() {
  return <p className="lazy">A lazily loaded route.</p>
}

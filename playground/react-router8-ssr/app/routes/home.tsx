import { Link } from 'react-router'

export function meta() {
  return [{ title: 'Home' }]
}

export default function Home() {
  return (
    <main className="rel">
      <h1>Home</h1>
      <img src="/img/hero.png" alt="" />
      <Link to="/lazy">Lazy</Link>
    </main>
  )
}

import './application.css'

document.documentElement.dataset.app = 'rails'

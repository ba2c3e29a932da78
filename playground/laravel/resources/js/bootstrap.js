document.documentElement.dataset.app = 'laravel'

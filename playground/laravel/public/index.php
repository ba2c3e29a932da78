<?php // Laravel's front controller; this playground is built with Vite only (no PHP).

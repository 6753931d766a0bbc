import { serve } from './service.js';

// The api role alone (as `npm start -- --role api`), to scale it on its own.
serve(new Set(['api'] as const));

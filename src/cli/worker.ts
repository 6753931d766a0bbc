import { serve } from './service.js';

// The worker role alone (as `npm start -- --role worker`), to scale it on its own.
serve(new Set(['worker'] as const));

import { serve } from './service.js';

// The projector role alone (as `npm start -- --role projector`), to scale it on its own.
serve(new Set(['projector'] as const));

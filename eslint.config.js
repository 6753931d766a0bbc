import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'bench/reports/**', 'web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'knex',
                'pg',
                'ioredis',
                'koa',
                '@koa/*',
                'socket.io*',
                'bullmq',
                'stripe',
                'meilisearch',
                '@eventstore/*',
                'winston',
              ],
              message: 'Deciders stay pure: no infrastructure in src/domain.',
            },
            {
              group: [
                '**/infra/**',
                '**/http/**',
                '**/eventstore/**',
                '**/projections/**',
                '**/jobs/**',
                '**/realtime/**',
                '**/integrations/**',
              ],
              message: 'Deciders stay pure: no infrastructure in src/domain.',
            },
          ],
        },
      ],
    },
  },
);

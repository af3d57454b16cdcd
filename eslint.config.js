// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.garrison/**', 'bin/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      // async without await is how a synchronous throw becomes a rejection.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The scheduler owns every timer (seed flaw 5): nothing else may make one.
    files: ['src/**/*.ts'],
    ignores: ['src/scheduler/**', 'src/runtime/clock.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Timers belong to the scheduler (src/scheduler) or the Clock.' },
        { name: 'setInterval', message: 'Timers belong to the scheduler (src/scheduler) or the Clock.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'globalThis', property: 'setTimeout', message: 'Timers belong to the scheduler.' },
        { object: 'globalThis', property: 'setInterval', message: 'Timers belong to the scheduler.' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);

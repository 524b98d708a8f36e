// Type-aware lint: the rules that matter most here are no-floating-promises and
// no-misused-promises, because a dropped promise inside a FUSE op hangs its reader
// until fuse-native's 15 s timeout.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', 'bin/**', 'scripts/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Flickr's JSON is `any` by nature. Parsing it leniently is the job of src/flickr/ (and of the fake
    // that answers in Flickr's shape, and the tests that read raw answers); everywhere else works on
    // typed records, so an `any` leaking out of these folders is a lint error there.
    // bench/pin.ts's latency floor replays flickrfs's API calls on raw answers, with no parsing layer.
    files: ['src/flickr/**', 'src/fake-flickr/**', 'test/flickr/**', 'test/fake-flickr/**', 'bench/pin.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
)

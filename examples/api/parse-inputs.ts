// Parse an mm input and mirror package files without running anything: the parsers are
// pure functions, so a program can validate or rewrite configuration before starting omirr.
//
//   node dist/examples/api/parse-inputs.js          (prints JSON on stdout)
import { parseMmInput, parsePackageFiles, formatDiagnostic, sitePackageOf } from 'omirr';

const mm = parseMmInput(
  ['# two jobs and a setting', 'max=2', 'upstream-a:docs 24 2', 'upstream-b:data 12 1 -v', 'this line is not mm input'].join('\n'),
  'example.in',
);
const jobs = mm.statements.flatMap((st) => (st.kind === 'job' ? [sitePackageOf(st)] : []));

const pkgs = parsePackageFiles([
  {
    file: 'packages/upstream-a',
    text: ['package=docs', '\tsite=./upstream/a', '\tremote_dir=docs', '\tlocal_dir=mirrors/a/docs', '\texclude_patt=\\.tmp$'].join('\n'),
  },
]);

process.stdout.write(
  JSON.stringify({
    jobs,
    kinds: mm.statements.map((st) => st.kind),
    warnings: mm.warnings.map(formatDiagnostic),
    // values holds every keyword (mirror's defaults filled in); locs only the ones written.
    packages: pkgs.packages.map((p) => ({
      name: p.name,
      set: Object.fromEntries(Object.keys(p.locs).map((k) => [k, p.values[k]])),
      recursive: p.values.recursive,
    })),
  }) + '\n',
);

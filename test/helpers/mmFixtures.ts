// Mirror package files for the pkgs-to-mmin tests, with outputs checked against the original
// pkgs_to_mmin.pl 2.9 run by perl 5.36.

/** packages/<name> files; read in the order given to the tool. */
export const PACKAGE_FILES: Record<string, string> = {
  // Debian style: a defaults block sets the site for the packages after it.
  'ftp.tex.ac.uk': [
    '# Debian style: defaults set the site for the packages after it',
    'package=defaults',
    '\tsite=ftp.tex.ac.uk',
    '\tremote_dir=/pub/archive',
    'package=ctan-macros',
    '\tremote_dir=/pub/archive/macros',
    '\tlocal_dir=/srv/ctan/macros',
    'package=ctan-fonts',
    '\tremote_dir=/pub/archive/fonts',
    '\tskip=temporarily broken',
    'package = ctan-doc  ',
    '\tlocal_dir=/srv/ctan/doc',
    '',
    'package=ctan-bin',
    '\texclude_patt=\\.exe$',
    '',
  ].join('\n'),
  // No site= of its own (inherits the last one seen), a blank line inside a package before
  // its skip=, a spaced `skip =`, package=0 (false in Perl) and a package= on the last line.
  'sunsite.org.uk': [
    'package=gnu',
    '\tremote_dir=/gnu',
    '',
    '\tskip=no',
    'package=x11',
    '\tskip = spaced skip is not seen',
    'package=0',
    '\tremote_dir=/zero',
    'package=perl',
    '',
  ].join('\n'),
  // Starts with a blank line (flushes the previous file's last package under THIS name);
  // its own site= is its last line, read only after the final flush.
  'late.example': ['', 'package=late-one', '\tremote_dir=/a', '\tsite=late.example', ''].join('\n'),
  empty: '',
};

/** Expected output for the files in the order given, with the hours. */
export const PKGS_TO_MMIN_CASES: Array<{ files: string[]; args: string[]; yes?: number; no?: number; out: string[] }> = [
  {
    files: ['ftp.tex.ac.uk', 'sunsite.org.uk', 'late.example', 'empty'],
    args: [],
    out: [
      'ftp.tex.ac.uk:defaults 8 8',
      'ftp.tex.ac.uk:ctan-macros 8 8',
      'ftp.tex.ac.uk:ctan-doc 8 8',
      'ftp.tex.ac.uk:ctan-bin 8 8',
      'sunsite.org.uk:gnu 8 8',
      'sunsite.org.uk:x11 8 8',
      'late.example:perl 8 8',
      'late.example:late-one 8 8',
    ],
  },
  // No site seen anywhere: nothing.
  { files: ['sunsite.org.uk'], args: ['-y', '3', '-n12'], yes: 3, no: 12, out: [] },
  // late.example's site (its last line) arrives after its flush; its package is emitted by
  // the next file's first flush, under the next file's name.
  {
    files: ['late.example', 'sunsite.org.uk'],
    args: [],
    out: ['sunsite.org.uk:late-one 8 8', 'sunsite.org.uk:gnu 8 8', 'sunsite.org.uk:x11 8 8'],
  },
  {
    files: ['late.example', 'ftp.tex.ac.uk', 'sunsite.org.uk'],
    args: ['-y3'],
    yes: 3,
    out: [
      'ftp.tex.ac.uk:late-one 3 8',
      'ftp.tex.ac.uk:defaults 3 8',
      'ftp.tex.ac.uk:ctan-macros 3 8',
      'ftp.tex.ac.uk:ctan-doc 3 8',
      'ftp.tex.ac.uk:ctan-bin 3 8',
      'sunsite.org.uk:gnu 3 8',
      'sunsite.org.uk:x11 3 8',
    ],
  },
];

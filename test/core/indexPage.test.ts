// Index pages as listings: nginx autoindex lines (exact sizes, entities, encoded names),
// and hrefs that must never become paths: parents, absolute, off-site, encoded slashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childOfHref, decodeEntities, looksLikeListing, parseIndexPage } from '../../src/core/indexPage.js';

const NGINX = `<html>
<head><title>Index of /</title></head>
<body>
<h1>Index of /</h1><hr><pre><a href="../">../</a>
<a href="sub/">sub/</a>                                               06-Dec-2026 00:23                   -
<a href="%26amp%3B.txt">&amp;amp;.txt</a>                                          06-Dec-2026 00:23                   4
<a href="a%20b.txt">a b.txt</a>                                            05-Dec-2026 21:20             1234567
</pre><hr></body>
</html>`;

test('nginx autoindex: directories, exact sizes, times to the minute, names decoded', () => {
  assert.deepEqual(parseIndexPage(NGINX), [
    { name: 'sub', dir: true, mtimeMs: Date.UTC(2026, 11, 6, 0, 23), mtimePrecisionMs: 60_000 },
    { name: '&amp;.txt', dir: false, size: 4, mtimeMs: Date.UTC(2026, 11, 6, 0, 23), mtimePrecisionMs: 60_000 },
    { name: 'a b.txt', dir: false, size: 1234567, mtimeMs: Date.UTC(2026, 11, 5, 21, 20), mtimePrecisionMs: 60_000 },
  ]);
});

test('hrefs that are not children are ignored', () => {
  for (const href of ['../', '/etc/passwd', 'http://evil.example/x', '//evil.example/x', '?C=N;O=D', '#top', 'a/b', '..%2F..%2Fetc', '%2e%2e', 'x%00y', 'mailto:x@y', '%zz']) {
    assert.equal(childOfHref(href), undefined, href);
  }
  assert.deepEqual(childOfHref('./file.txt'), { name: 'file.txt', dir: false });
  assert.deepEqual(childOfHref('dir/'), { name: 'dir', dir: true });
  assert.deepEqual(childOfHref('a&amp;b'), { name: 'a&b', dir: false });
  // escapes are the name's bytes: Latin-1 (not UTF-8) escaped byte by byte, UTF-8 as text
  assert.deepEqual(childOfHref('caf%E9.txt'), { name: 'caf\udce9.txt', dir: false });
  assert.deepEqual(childOfHref('r%E9p/'), { name: 'r\udce9p', dir: true });
  assert.deepEqual(childOfHref('na%C3%AFve.txt'), { name: 'na\u00efve.txt', dir: false });
});

test('entities: named, decimal and hex; unknown ones stay', () => {
  assert.equal(decodeEntities('&lt;&#65;&#x42;&quot;&bogus;'), '<AB"&bogus;');
});

test('looksLikeListing: an empty listing says so; a page without links does not', () => {
  const nginxEmpty = '<html>\r\n<head><title>Index of /x/</title></head>\r\n<body>\r\n<h1>Index of /x/</h1><hr><pre><a href="../">../</a>\r\n</pre><hr></body>\r\n</html>\r\n';
  assert.equal(looksLikeListing(nginxEmpty), true);
  assert.equal(looksLikeListing('<title>Directory listing for /</title><ul></ul>'), true);
  assert.equal(looksLikeListing('<table><tr><td><a href="..">Parent</a></td></tr></table>'), true);
  assert.equal(looksLikeListing('<html><title>Down for maintenance</title><body>Back soon. <a href="https://status.example/">status</a></body></html>'), false);
  assert.equal(looksLikeListing('<h1>Our project</h1><p>Welcome</p><a href="../other/">elsewhere</a>'), false);
});

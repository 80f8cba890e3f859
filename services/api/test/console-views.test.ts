import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { escapeHtml, html, raw, toHtmlString } from '../src/admin/page/html.ts';
import { formatDuration, objectView, searchView } from '../src/admin/page/views.ts';

/** The console's views put directory data into HTML: every value is escaped, links are encoded. */
describe('console views', () => {
  const evil = `<img src=x onerror="alert(1)">&'`;

  test('the html template escapes values, keeps nested templates, joins arrays, drops null', () => {
    const cases: [string, string][] = [
      [toHtmlString(html`<b>${evil}</b>`), '<b>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;</b>'],
      [toHtmlString(html`<i>${html`<u>${'a<b'}</u>`}</i>`), '<i><u>a&lt;b</u></i>'],
      [toHtmlString(html`${['<a>', html`<br>`, 2]}`), '&lt;a&gt;<br>2'],
      [toHtmlString(html`${null}${undefined}${false}|${0}`), '|0'],
      [toHtmlString(html`${raw('<hr>')}`), '<hr>'],
    ];
    for (const [actual, expected] of cases) assert.equal(actual, expected);
    assert.equal(escapeHtml(`"'<>&`), '&quot;&#39;&lt;&gt;&amp;');
  });

  test('an object whose attributes hold markup is shown as text, its links encoded', () => {
    const out = toHtmlString(
      objectView(
        {
          kind: 'user',
          profileId: '4f1c4b4e-0000-4000-8000-000000000001',
          profileName: evil,
          externalId: 'id/with?odd#chars',
          state: { login_name: evil, display_name: evil, dn: `cn=${evil}`, enabled: true, attributes: { note: [evil] } },
          directGroups: [{ externalId: 'g"1', name: evil }],
          effectiveGroups: [],
          roles: [evil],
          members: null,
          memberCount: null,
          heldBack: [],
        },
        {
          items: [
            {
              id: 1,
              runId: 'r<1>',
              runMode: 'full',
              runStartedAt: null,
              loggedAt: '2026-11-26T10:00:00.000Z',
              entity: 'membership',
              op: 'added',
              changed: null,
              detail: null,
              errorCode: null,
              errorMessage: null,
              group: { externalId: 'g"1', name: evil },
              member: null,
            },
            {
              id: 2,
              runId: null,
              runMode: null,
              runStartedAt: null,
              loggedAt: null,
              entity: 'user',
              op: 'disabled',
              changed: ['enabled'],
              detail: { disabledReason: evil },
              errorCode: null,
              errorMessage: null,
              group: null,
              member: null,
            },
          ],
          nextCursor: null,
        },
      ),
    );
    assert.equal(out.includes('<img'), false);
    assert.equal(out.includes('onerror="'), false);
    assert.ok(out.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'));
    assert.ok(out.includes('href="#/objects/4f1c4b4e-0000-4000-8000-000000000001/g%221"'));
    assert.ok(out.includes('href="#/runs/r%3C1%3E"'));
    assert.ok(out.includes('<time datetime="2026-11-26T10:00:00.000Z">'));
  });

  test('a search echoes the query escaped', () => {
    const out = toHtmlString(searchView(evil, [], null));
    assert.equal(out.includes('<img'), false);
    assert.ok(out.includes('value="&lt;img'));
  });

  test('durations read at a glance', () => {
    assert.deepEqual([null, 12, 1_500, 61_000, 3_725_000].map(formatDuration), ['—', '12 ms', '1.5 s', '1 min 1 s', '62 min 5 s']);
  });
});

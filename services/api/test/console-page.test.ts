import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { type ConsoleFixture, createConsoleFixture, ENTRY_ERRORS } from './console-fixture.ts';

/**
 * The console page in a real browser: Debian's Chromium, headless, driven by puppeteer-core (which
 * never downloads a browser). DIRSTREAM_SCREENSHOTS=docs/img keeps the screenshots of the main
 * views there (the ones docs/operations.md shows); otherwise they go to a temp folder.
 */
const CHROMIUM = process.env.DIRSTREAM_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const keepShots = process.env.DIRSTREAM_SCREENSHOTS;
const shotsDir = keepShots ? resolve(ROOT, keepShots) : mkdtempSync(join(tmpdir(), 'dirstream-console-shots-'));
const VIEWER_ZONE = 'Asia/Tokyo';

describe('console page', { timeout: 600_000 }, () => {
  let fx: ConsoleFixture;
  let browser: Browser;

  before(async () => {
    mkdirSync(shotsDir, { recursive: true });
    fx = await createConsoleFixture('console-page');
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
      defaultViewport: { width: 1280, height: 860 },
    });
  });
  after(async () => {
    await browser?.close();
    await fx?.close();
    if (!keepShots) rmSync(shotsDir, { recursive: true, force: true });
  });

  const shot = async (page: Page, name: string) => {
    await page.screenshot({ path: join(shotsDir, `console-${name}.png`), fullPage: true });
  };
  const text = (page: Page, selector: string) => page.$eval(selector, (el) => (el as unknown as { innerText: string }).innerText);
  const openPage = async (): Promise<Page> => {
    const page = await browser.newPage();
    await page.emulateTimezone(VIEWER_ZONE);
    page.on('pageerror', (err) => assert.fail(`script error on the page: ${err}`));
    return page;
  };
  const signIn = async (page: Page, token: string) => {
    await page.goto(`${fx.adminUrl}/#/profiles`);
    await page.waitForSelector('#login-form input[name=token]');
    await page.type('#login-form input[name=token]', token);
    await page.click('#login-form button[type=submit]');
  };

  test('without a token the page refuses; a wrong token is refused too', async () => {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.goto(`${fx.adminUrl}/#/profiles`);
    await page.waitForSelector('#login-form');
    assert.match(await text(page, 'main'), /Admin token required/);
    assert.equal(await page.$('[data-profile]'), null, 'no profile is shown without a token');
    await page.type('#login-form input[name=token]', 'not-a-token');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction("document.getElementById('refusal')?.textContent?.includes('401')");
    assert.equal(await page.$('[data-profile]'), null);
    await shot(page, 'refused');
    await context.close();
  });

  test('with a token: profiles with their status, then an object search and its timeline', async () => {
    const page = await openPage();
    await signIn(page, fx.operatorToken);
    await page.waitForSelector(`[data-profile="${fx.pipeline.profileId}"] .badge-succeeded`);
    const card = await text(page, `[data-profile="${fx.pipeline.profileId}"]`);
    assert.match(card, /console-page/);
    assert.match(card, /Sync now/);
    assert.doesNotMatch(card, new RegExp(fx.secrets[0] as string));
    assert.match(await text(page, '#who'), /ops · operator/);
    // Times are shown in the viewer's zone, not as the ISO strings the server rendered.
    const shown = await page.$eval('time[datetime]', (el) => ({ iso: el.getAttribute('datetime'), text: el.textContent }));
    assert.notEqual(shown.text, shown.iso);
    // The same instant formatted by the browser in the viewer's zone and in UTC (Tokyo is UTC+9).
    const inZone = (zone: string) =>
      page.evaluate(
        `new Date(${JSON.stringify(shown.iso)}).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium', timeZone: ${JSON.stringify(zone)} })`,
      );
    assert.equal(shown.text, await inZone(VIEWER_ZONE));
    assert.notEqual(shown.text, await inZone('UTC'));

    await page.click('a[data-nav=objects]');
    await page.waitForSelector('form.search input[name=q]');
    await page.type('form.search input[name=q]', 'bob2');
    await page.keyboard.press('Enter');
    await page.waitForSelector('table.hits');
    await page.click('table.hits tbody tr a');
    await page.waitForSelector('table.timeline');
    const timeline = await text(page, 'table.timeline');
    assert.match(timeline, /created/);
    assert.match(timeline, /joined group staff/);
    assert.match(timeline, /uid=bob,.* → uid=bob2,/);
    assert.match(await text(page, 'h1'), /User bob2/);
    await shot(page, 'object');

    // Object → run: the timeline links to the run that made the change, and back.
    await page.click('table.timeline tbody tr:last-child a[href^="#/runs/"]');
    await page.waitForSelector('table.changes');
    assert.match(await text(page, 'main'), /Objects changed/);
    assert.match(await text(page, 'table.errors'), /ENTRY_MISSING_ATTRIBUTE/);
    assert.match(await text(page, 'main'), new RegExp(`Showing 10 of ${ENTRY_ERRORS}`));
    await shot(page, 'run');
    await page.click('a.more[href*="errors=all"]');
    await page.waitForFunction(`document.querySelectorAll('table.errors tbody tr').length === ${ENTRY_ERRORS}`);

    await page.click('a[data-nav=runs]');
    await page.waitForSelector('table.runs');
    assert.ok((await page.$$('table.runs tbody tr')).length >= 2);
    await shot(page, 'runs');

    await page.select('form.filters select[name=status]', 'halted');
    await page.click('form.filters button[type=submit]');
    await page.waitForFunction("location.hash === '#/runs?status=halted' && document.querySelectorAll('table.runs tbody tr').length === 1");
    await page.click('table.runs tbody tr a[href^="#/runs/"]');
    await page.waitForSelector('section.halt');
    assert.match(await text(page, 'section.halt'), /Halt report/);
    assert.match(await text(page, 'section.halt'), /dave[\s\S]*erin|erin[\s\S]*dave/);
    await shot(page, 'halted');

    await page.click('a[data-nav=dead-letters]');
    await page.waitForSelector('table.dead-letters');
    assert.match(await text(page, 'table.dead-letters'), /EVENT_DECODE_FAILED/);
    await shot(page, 'dead-letters');

    await page.click('a[data-nav=activity]');
    await page.waitForSelector('#chart-runs .uplot');
    await page.waitForSelector('table.lag');
    await shot(page, 'activity');
    await page.close();
  });

  test('"Sync now" reaches the running poller and the new run appears', async () => {
    const poller = fx.pipeline.startPoller();
    const applier = fx.pipeline.startApplier();
    try {
      const page = await openPage();
      await signIn(page, fx.operatorToken);
      // The card shows the poller that holds the profile once the scheduled poller started.
      // (A string: it runs in the page, where the DOM is, not in this process.)
      await page.waitForFunction(
        `(() => {
          const card = document.querySelector('[data-profile="${fx.pipeline.profileId}"]');
          return card !== null && /pid \\d+ \\(scheduled\\)/.test(card.innerText) && !/running now|requested/.test(card.innerText);
        })()`,
        { timeout: 120_000 },
      );
      await shot(page, 'profiles');
      await page.click(`[data-profile="${fx.pipeline.profileId}"] button[data-sync][data-full=false]`);
      await page.waitForFunction("location.hash.startsWith('#/runs/')");
      const runId = decodeURIComponent(String(await page.evaluate('location.hash')).slice('#/runs/'.length));
      assert.match(await text(page, '#flash'), new RegExp(`run ${runId}`));
      // The run page follows the request until the applier recorded the finished run.
      // (The profiles view's card has a badge too: wait for the run's own page.)
      await page.waitForFunction(
        `document.querySelector('h1')?.textContent.includes(${JSON.stringify(runId)}) && document.querySelector('section.card .badge-succeeded') !== null`,
        { timeout: 120_000 },
      );
      assert.match(await text(page, 'h1'), new RegExp(runId));
      await page.click('a[data-nav=runs]');
      await page.waitForSelector(`table.runs tr[data-run="${runId}"]`);
      await page.close();
    } finally {
      await Promise.all([poller.stop(), applier.stop()]);
    }
  });

  test('a viewer sees no "Sync now" button', async () => {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.goto(`${fx.adminUrl}/#/profiles`);
    await page.waitForSelector('#login-form input[name=token]');
    await page.type('#login-form input[name=token]', fx.viewerToken);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector(`[data-profile="${fx.pipeline.profileId}"]`);
    assert.equal(await page.$('button[data-sync]'), null);
    await context.close();
  });
});

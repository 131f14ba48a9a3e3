// Drives JupyterLab in headless Chromium: opens the notebook, runs all cells, waits for the
// kernel, checks what rendered and takes screenshots. Used by scripts/browser_check.sh.
// usage: node browser_check.mjs URL OUT_DIR PATH/TO/playwright-core/index.mjs
const [url, outDir, pwPath] = process.argv.slice(2);
const { chromium } = await import(pwPath);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const log = (...a) => console.log('browser_check:', ...a);
let failed = false;
try {
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 120_000 });
  await page.waitForFunction(() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell'), null, { timeout: 120_000 });
  log('notebook open; waiting for the kernel');
  // wait for the kernel to be idle (a warm gpt2lab kernel starts in ~30 s; cold compiles for minutes)
  await page.waitForFunction(() => {
    const w = window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return k && k.status === 'idle';
  }, null, { timeout: 1_500_000, polling: 1000 });
  log('kernel idle; running all cells');
  const t0 = Date.now();
  await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
  // done when every code cell has an execution count and the kernel is idle again
  await page.waitForFunction(() => {
    const w = window.jupyterapp.shell.currentWidget;
    const cells = w.content.widgets.filter((c) => c.model.type === 'code');
    const k = w.sessionContext.session.kernel;
    return k.status === 'idle' && cells.every((c) => c.model.executionCount !== null);
  }, null, { timeout: 900_000, polling: 1000 });
  log(`all cells ran in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  await page.waitForTimeout(1500);

  const report = await page.evaluate(() => {
    const w = window.jupyterapp.shell.currentWidget;
    const cells = w.content.widgets.filter((c) => c.model.type === 'code');
    const outs = cells.map((c, i) => {
      const o = c.model.outputs.toJSON();
      return { i, types: o.map((x) => x.output_type + (x.data ? ':' + Object.keys(x.data).join(',') : (x.name ? ':' + x.name : ''))),
               text: o.map((x) => (x.text || (x.data && x.data['text/plain']) || x.evalue || '')).join('').slice(0, 300) };
    });
    const area = document.querySelector('.jp-Notebook');
    return {
      outs,
      tables: area.querySelectorAll('.jp-OutputArea-output table').length,
      svgs: area.querySelectorAll('.jp-OutputArea-output svg').length,
      errors: area.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]').length,
    };
  });
  for (const o of report.outs) log(`cell ${o.i}: ${o.types.join(' ')} ${JSON.stringify(o.text.slice(0, 120))}`);
  log(`rendered: ${report.tables} table(s), ${report.svgs} svg(s), ${report.errors} error output(s)`);
  if (report.tables < 1 || report.svgs < 1 || report.errors > 0) failed = true;

  // screenshots: every code cell whose output has a table or an svg (one file per cell)
  const count = await page.evaluate(() => {
    const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
    let n = 0;
    for (const c of cells) {
      if (c.querySelector('.jp-OutputArea-output table, .jp-OutputArea-output svg')) c.setAttribute('data-shot', String(++n));
    }
    return n;
  });
  for (let n = 1; n <= count; n++) {
    const el = await page.$(`.jp-CodeCell[data-shot="${n}"]`);
    if (!el) continue;
    await el.scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    const file = `${outDir}/cell-${n}.png`;
    await el.screenshot({ path: file });
    log('screenshot', file);
  }
  await page.screenshot({ path: `${outDir}/page.png` });
} catch (e) {
  failed = true;
  console.error('browser_check: ', e);
  await page.screenshot({ path: `${outDir}/error.png` }).catch(() => {});
} finally {
  await browser.close();
}
log(failed ? 'FAILED' : 'ok');
process.exit(failed ? 1 : 0);

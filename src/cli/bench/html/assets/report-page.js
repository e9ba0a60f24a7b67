// The bench report's script: draws the charts described in #tandem-bench-charts (built and typed in
// src/cli/bench/html/charts.ts) with Chart.js, inlined before this script. It adds what JSON cannot
// carry: tick and tooltip formatters by unit, and a resize around printing. When it is done,
// <html data-charts> holds the number of charts drawn ("failed" and a message in each box if not).
(function () {
  'use strict';
  var root = document.documentElement;

  function fail(message) {
    root.setAttribute('data-charts', 'failed');
    document.querySelectorAll('.canvas-box').forEach(function (box) {
      box.classList.add('failed');
      box.textContent = message;
    });
  }

  if (typeof window.Chart !== 'function') {
    fail('The charts could not be drawn (Chart.js did not load); the tables hold every number.');
    return;
  }
  var Chart = window.Chart;

  function trim(n, digits) {
    return Number(n.toFixed(digits)).toLocaleString('en-US', { maximumFractionDigits: digits });
  }
  function number(n) {
    var abs = Math.abs(n);
    if (abs === 0) return '0';
    if (abs >= 100) return trim(n, 0);
    if (abs >= 10) return trim(n, 1);
    if (abs >= 1) return trim(n, 2);
    return trim(n, Math.min(6, 2 - Math.floor(Math.log10(abs))));
  }
  var FORMATS = {
    ms: function (v) {
      if (Math.abs(v) >= 60000) return number(v / 60000) + ' min';
      if (Math.abs(v) >= 1000) return number(v / 1000) + ' s';
      return number(v) + ' ms';
    },
    bytes: function (v) {
      if (Math.abs(v) >= 1048576) return number(v / 1048576) + ' MiB';
      if (Math.abs(v) >= 1024) return number(v / 1024) + ' KiB';
      return number(v) + ' B';
    },
    count: function (v) { return number(v); },
    percent: function (v) { return number(v) + '%'; },
    perSecond: function (v) { return number(v) + '/s'; },
  };

  // Chart.js's own log-axis labels show 1, 2 and 5 of each power of ten; keep that with our units.
  function logTick(format) {
    return function (value) {
      var v = Number(value);
      if (!(v > 0)) return '';
      var mantissa = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
      var m = Math.round(mantissa);
      return Math.abs(mantissa - m) < 1e-6 && (m === 1 || m === 2 || m === 5) ? format(v) : '';
    };
  }

  function decorate(spec) {
    var options = (spec.config.options = spec.config.options || {});
    var scales = (options.scales = options.scales || {});
    ['x', 'y'].forEach(function (axis) {
      var format = FORMATS[spec.units[axis]];
      if (!format) return;
      var scale = (scales[axis] = scales[axis] || {});
      var at = spec.ticks && spec.ticks[axis];
      scale.ticks = scale.ticks || {};
      if (at) {
        scale.afterBuildTicks = function (built) { built.ticks = at.map(function (value) { return { value: value }; }); };
        scale.ticks.autoSkip = false;
      }
      scale.ticks.callback = scale.type === 'logarithmic' && !at ? logTick(format) : function (value) { return format(Number(value)); };
    });
    var plugins = (options.plugins = options.plugins || {});
    plugins.tooltip = plugins.tooltip || {};
    plugins.tooltip.callbacks = { label: tooltipLabel(spec) };
  }

  function tooltipLabel(spec) {
    var x = FORMATS[spec.units.x] || FORMATS.count;
    var y = FORMATS[spec.units.y] || FORMATS.count;
    return function (context) {
      var raw = context.raw;
      var name = context.dataset.label ? context.dataset.label + ': ' : '';
      if (spec.config.type !== 'scatter') return name + y(context.parsed.y);
      var text = name + 'every ' + x(raw.x) + ', ' + y(raw.y);
      if (typeof raw.poll === 'number') text += ' (CPU per client-second: polling ' + FORMATS.ms(raw.poll) + ', push ' + FORMATS.ms(raw.push) + ')';
      return text;
    };
  }

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = '#1b1f24';
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  // Sharp when printed or zoomed, not only at the screen's own density.
  Chart.defaults.devicePixelRatio = Math.max(2, window.devicePixelRatio || 1);

  var charts = [];
  try {
    var specs = JSON.parse(document.getElementById('tandem-bench-charts').textContent);
    specs.forEach(function (spec) {
      var canvas = document.getElementById('chart-' + spec.id);
      if (!canvas) return;
      decorate(spec);
      charts.push(new Chart(canvas, spec.config));
    });
  } catch (error) {
    charts.forEach(function (chart) { chart.destroy(); });
    fail('The charts could not be drawn (' + (error && error.message ? error.message : error) + '); the tables hold every number.');
    throw error;
  }
  root.setAttribute('data-charts', String(charts.length));

  // Print styles change the boxes' sizes, and Chart.js does not notice on its own.
  function resizeAll() {
    charts.forEach(function (chart) { chart.resize(); });
  }
  window.addEventListener('beforeprint', resizeAll);
  window.addEventListener('afterprint', resizeAll);
})();

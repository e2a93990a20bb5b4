// omnigate portal: the page behaviour htmx does not cover. A plain script (no inline code
// anywhere: the CSP forbids it), loaded with `defer` after htmx and, on chart pages, uPlot.
;(function () {
  'use strict'
  var meta = document.querySelector('meta[name="csrf-token"]')
  var csrf = meta ? meta.getAttribute('content') : ''

  // Every htmx request carries the CSRF token as a header (forms also carry it as a field).
  document.addEventListener('htmx:config:request', function (evt) {
    var ctx = evt.detail && evt.detail.ctx
    if (ctx && ctx.request && ctx.request.headers) ctx.request.headers['X-CSRF-Token'] = csrf
  })

  // Forms that ask first (cancel a message): data-confirm="Cancel this message?"
  document.addEventListener('submit', function (evt) {
    var form = evt.target
    var question = form && form.getAttribute && form.getAttribute('data-confirm')
    if (question && !window.confirm(question)) evt.preventDefault()
  })

  // Copy buttons: data-copy="id-of-element-holding-the-text"
  document.addEventListener('click', function (evt) {
    var button = evt.target && evt.target.closest && evt.target.closest('[data-copy]')
    if (!button) return
    var source = document.getElementById(button.getAttribute('data-copy'))
    if (!source || !navigator.clipboard) return
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = 'Copied'
    })
  })

  // Charts: <div data-chart='{"x":[unix seconds…],"series":[{"label":…,"color":…,"values":[…]}]}'>
  // The dashboard swaps its charts in every 30 s: one resize listener for all of them, and a
  // chart whose node was swapped out is destroyed, so an open tab does not pile them up.
  var charts = []
  var chartWidth = function (node) { return Math.max(280, node.clientWidth) }
  function pruneCharts() {
    charts = charts.filter(function (c) {
      if (c.node.isConnected) return true
      c.chart.destroy()
      return false
    })
  }
  window.addEventListener('resize', function () {
    pruneCharts()
    charts.forEach(function (c) { c.chart.setSize({ width: chartWidth(c.node), height: 240 }) })
  })
  function drawCharts(root) {
    pruneCharts()
    if (typeof window.uPlot !== 'function') return
    var nodes = root.querySelectorAll('[data-chart]:not([data-drawn])')
    for (var i = 0; i < nodes.length; i++) drawChart(nodes[i])
  }
  function drawChart(node) {
    var spec = JSON.parse(node.getAttribute('data-chart'))
    node.setAttribute('data-drawn', '')
    var series = [{}]
    var data = [spec.x]
    spec.series.forEach(function (s) {
      series.push({ label: s.label, stroke: s.color, width: 2, points: { show: false } })
      data.push(s.values)
    })
    var chart = new window.uPlot({ width: chartWidth(node), height: 240, series: series, axes: [{}, { size: 50 }], legend: { live: false } }, data, node)
    charts.push({ node: node, chart: chart })
  }

  // Live sections: <div data-live="/portal/ns/…/events"> gets each "update" event's HTML until "done".
  function followLive(root) {
    var nodes = root.querySelectorAll('[data-live]:not([data-following])')
    for (var i = 0; i < nodes.length; i++) follow(nodes[i])
  }
  function follow(node) {
    if (typeof window.EventSource !== 'function') return
    node.setAttribute('data-following', '')
    var source = new EventSource(node.getAttribute('data-live'))
    source.addEventListener('update', function (evt) {
      node.innerHTML = evt.data
      if (window.htmx && window.htmx.process) window.htmx.process(node)
    })
    source.addEventListener('done', function () {
      source.close()
      node.setAttribute('data-live-done', '')
    })
  }

  // Date-and-time pickers: <input type="datetime-local" data-local-time> holds a wall-clock time in
  // this browser's zone; the hidden <name>_tz_offset beside it gets that zone's offset for the
  // picked time (summer time included), so the server knows the instant. data-instant is the time
  // the server already knows (a filter in the URL, a form sent back): shown here in local time.
  var zone = ''
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || '' } catch (e) { zone = '' }
  var WALL_CLOCK = /^(\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/
  function pad(n, width) { return String(n).padStart(width || 2, '0') }
  function wallClock(at) {
    var seconds = at.getSeconds()
    var ms = at.getMilliseconds()
    return pad(at.getFullYear(), 4) + '-' + pad(at.getMonth() + 1) + '-' + pad(at.getDate()) + 'T' + pad(at.getHours()) + ':' + pad(at.getMinutes()) +
      (seconds || ms ? ':' + pad(seconds) : '') + (ms ? '.' + pad(ms, 3) : '')
  }
  function offsetOf(value) {
    var m = WALL_CLOCK.exec(value)
    if (!m) return ''
    var at = new Date(2000, 0, 1)
    at.setFullYear(+m[1], +m[2] - 1, +m[3]) // not new Date(y, …): that reads years 0–99 as 19xx
    at.setHours(+m[4], +m[5], +(m[6] || 0), 0)
    return String(Math.round(at.getTimezoneOffset()))
  }
  function syncOffset(input) {
    var hidden = input.form && input.form.elements.namedItem(input.name + '_tz_offset')
    if (hidden) hidden.value = offsetOf(input.value)
  }
  function initPickers(root) {
    var inputs = root.querySelectorAll('input[data-local-time]:not([data-local-ready])')
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i]
      input.setAttribute('data-local-ready', '')
      var instant = input.getAttribute('data-instant')
      var at = instant ? new Date(instant) : null
      if (at && !isNaN(at.getTime())) input.value = wallClock(at)
      syncOffset(input)
      var label = input.id ? root.querySelector('label[for="' + input.id + '"] [data-zone]') : null
      if (label) label.textContent = '(' + (zone || 'local time') + ')'
    }
  }
  function onPickerChange(evt) {
    var input = evt.target
    if (input && input.matches && input.matches('input[data-local-time]')) syncOffset(input)
  }
  document.addEventListener('input', onPickerChange)
  document.addEventListener('change', onPickerChange)
  // Before htmx or the browser reads the form: every picker's offset matches its value.
  document.addEventListener('submit', function (evt) {
    var inputs = evt.target && evt.target.querySelectorAll ? evt.target.querySelectorAll('input[data-local-time]') : []
    for (var i = 0; i < inputs.length; i++) syncOffset(inputs[i])
  }, true)

  function init(root) {
    drawCharts(root)
    followLive(root)
    initPickers(root)
  }
  document.addEventListener('htmx:after:swap', function () { init(document) })
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', function () { init(document) })
  else init(document)
})()

// Answer pages that show a secret once (a webhook's signing secret): data-replace-url="/portal/…"
// puts the resource's own page in the address bar, so a reload asks for that page (which never
// shows the secret) instead of posting the form again.
;(function () {
  'use strict'
  var node = document.querySelector('[data-replace-url]')
  if (node && window.history && typeof window.history.replaceState === 'function') {
    window.history.replaceState(null, '', node.getAttribute('data-replace-url'))
  }
})()

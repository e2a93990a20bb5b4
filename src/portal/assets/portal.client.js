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

  function init(root) {
    drawCharts(root)
    followLive(root)
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

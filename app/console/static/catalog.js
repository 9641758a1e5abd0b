/* The catalogue's console pages: small helpers, each optional (every
   page works without script).
   - [data-check-all=NAME]: a checkbox that ticks every checkbox NAME of
     its form (by the form attribute too, as the codes table uses).
   - [data-dropzone]: a file dropped on it becomes its file input's file.
   - #import-progress[data-poll]: polls the import's progress (JSON) and
     moves the bar; once the import has finished the page reloads and
     shows the report. */
(function () {
  'use strict';

  document.addEventListener('change', function (event) {
    var all = event.target.closest('[data-check-all]');
    if (!all) return;
    var form = all.form;
    var boxes = form ? form.elements[all.getAttribute('data-check-all')] : null;
    if (!boxes) return;
    if (boxes.length === undefined) boxes = [boxes];
    Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
  });

  Array.prototype.forEach.call(document.querySelectorAll('[data-dropzone]'), function (zone) {
    var input = zone.querySelector('input[type=file]');
    var shown = zone.querySelector('.dropped');
    function show() {
      if (!shown) return;
      var file = input.files && input.files[0];
      shown.textContent = file ? file.name : '';
      shown.hidden = !file;
    }
    ['dragenter', 'dragover'].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add('over');
      });
    });
    ['dragleave', 'drop'].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove('over'); });
    });
    zone.addEventListener('drop', function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        show();
      }
    });
    input.addEventListener('change', show);
  });

  var box = document.getElementById('import-progress');
  var url = box && box.getAttribute('data-poll');
  if (!url) return;
  var bar = box.querySelector('progress');
  var done = box.querySelector('.done');
  var total = box.querySelector('.total');
  var misses = 0;
  function next(delay) { setTimeout(check, delay); }
  function check() {
    fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { misses += 1; next(Math.min(10000, 1000 * misses)); return; }
        misses = 0;
        bar.max = Math.max(state.total, 1);
        bar.value = state.done;
        done.textContent = state.done;
        total.textContent = state.total;
        if (state.finished) {
          bar.value = bar.max;
          setTimeout(function () { location.reload(); }, 1000);  // the full bar, a moment
        } else {
          next(700);
        }
      }, function () { misses += 1; next(Math.min(10000, 1000 * misses)); });
  }
  next(300);
})();

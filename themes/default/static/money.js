/* Money for the console's and the platform's charts: amounts arrive in
   minor units (integers) and the server formats every text a person reads;
   a chart only needs the axis' numbers with the decimal point placed.
   KamengMoney.majorText(12345, 2) -> "123.45"; whole numbers only. */
(function () {
  'use strict';

  function majorText(minor, digits) {
    var value = Math.round(minor);
    var sign = value < 0 ? '-' : '';
    var text = String(Math.abs(value));
    if (!digits) { return sign + text; }
    while (text.length <= digits) { text = '0' + text; }
    return sign + text.slice(0, -digits) + '.' + text.slice(-digits);
  }

  window.KamengMoney = { majorText: majorText };
}());

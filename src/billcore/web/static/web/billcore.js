/* billcore admin pages: plain JavaScript, no framework, nothing fetched at run time.
 *
 * Everything here is an enhancement. Without it every input is shown and posted and the
 * services judge every value. With it:
 *   - inputs the rules make unavailable (data-show-if) are hidden AND disabled, so they are
 *     not posted and the service leaves them at their "off" value;
 *   - tabs switch on the client (one form, one save); a panel with forms of its own
 *     (data-own-actions: Balance & Credits, Fraud Protection) hides the form's Save;
 *   - the customer form offers only classes of the chosen currency (CU-09) and only the
 *     class's currency when the class has one (CU-06), and marks the custom fields the
 *     chosen class makes mandatory (CU-11);
 *   - the balance-adjustment dialog, confirmations, and the named-tax rows.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------ show-if rules

  /* The control that carries a field's value: the check box of a toggle (not its hidden
     "false" marker), else the first input, select or textarea of that name. */
  function control(form, name) {
    var all = form.querySelectorAll('[name="' + CSS.escape(name) + '"]');
    var marker = null;
    for (var i = 0; i < all.length; i++) {
      var el = all[i];
      if (el.type === "checkbox") return el;
      if (el.type === "hidden") {
        marker = marker || el;
        continue;
      }
      return el;
    }
    return marker;
  }

  /* A field's current value as the rules see it: a disabled field is off ("") unless it is
     a read-only value the page shows (data-readonly, e.g. a saved class's currency). */
  function valueOf(form, name) {
    var el = control(form, name);
    if (!el) return "";
    if (el.disabled && !el.hasAttribute("data-readonly")) return "";
    if (el.type === "checkbox") return el.checked ? "on" : "";
    return el.value || "";
  }

  /* Conditions: "name" (on / not empty), "!name", "name=a|b", "!name=a". */
  function holds(form, condition) {
    var negate = condition.charAt(0) === "!";
    if (negate) condition = condition.slice(1);
    var eq = condition.indexOf("=");
    var ok;
    if (eq >= 0) {
      var wanted = condition.slice(eq + 1).split("|");
      ok = wanted.indexOf(valueOf(form, condition.slice(0, eq))) >= 0;
    } else {
      ok = valueOf(form, condition) !== "";
    }
    return negate ? !ok : ok;
  }

  function setAvailable(el, on) {
    el.hidden = !on;
    var inputs = el.querySelectorAll("input, select, textarea, button");
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if (input.dataset.serverDisabled === undefined) {
        input.dataset.serverDisabled = input.disabled ? "1" : "0";
      }
      input.disabled = !on || input.dataset.serverDisabled === "1";
    }
  }

  function applyRules(form) {
    var dependents = form.querySelectorAll("[data-show-if]");
    // A few passes settle chains (a field whose condition reads a field that was just hidden).
    for (var pass = 0; pass < 3; pass++) {
      for (var i = 0; i < dependents.length; i++) {
        setAvailable(dependents[i], holds(form, dependents[i].dataset.showIf));
      }
    }
  }

  // ------------------------------------------------------------------ tabs

  function initTabs(form) {
    var tabs = Array.prototype.slice.call(form.querySelectorAll('[role="tab"]'));
    if (!tabs.length) return;

    function panelOf(tab) {
      return document.getElementById(tab.getAttribute("aria-controls"));
    }

    function select(tab, focus) {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.tabIndex = on ? 0 : -1;
        var panel = panelOf(t);
        if (panel) panel.hidden = !on;
        // A panel with forms of its own (Balance & Credits, Fraud Protection): the customer
        // form's Save buttons would not save them, so they step aside.
        if (on) {
          form.classList.toggle("own-actions", !!(panel && panel.hasAttribute("data-own-actions")));
        }
      });
      if (focus) tab.focus();
      form.dataset.activeTab = tab.id;
    }

    // "Save" that stays on the page (_continue) comes back to the same tab: the redirect
    // after the POST inherits the fragment of the URL posted to.
    var base = (form.getAttribute("action") || location.pathname + location.search).split("#")[0];
    form.addEventListener("submit", function (event) {
      var stay = event.submitter && event.submitter.name === "_continue";
      form.action = stay ? base + "#" + form.dataset.activeTab : base;
    });

    tabs.forEach(function (tab, index) {
      tab.addEventListener("click", function () {
        select(tab, false);
        history.replaceState(null, "", "#" + tab.id);
      });
      tab.addEventListener("keydown", function (event) {
        var step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        event.preventDefault();
        select(tabs[(index + step + tabs.length) % tabs.length], true);
      });
    });

    var initial = tabs[0];
    var fromHash = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    if (fromHash && tabs.indexOf(fromHash) >= 0) initial = fromHash;
    var error = form.querySelector('[role="tabpanel"] .has-error');
    if (error) {
      var panel = error.closest('[role="tabpanel"]');
      var withError = tabs.filter(function (t) {
        return t.getAttribute("aria-controls") === panel.id;
      })[0];
      if (withError) initial = withError;
    }
    select(initial, false);
  }

  // ------------------------------------------------------------------ customer form

  function initCustomerForm(form) {
    var currency = form.querySelector('select[name="currency"]');
    var fixedCurrency = form.querySelector('input[name="currency"][data-readonly]');
    var klass = form.querySelector('select[name="customer_class"]');
    if (!klass) return;

    function chosenCurrency() {
      if (currency) return currency.value;
      return fixedCurrency ? fixedCurrency.value : "";
    }

    function sync() {
      var chosen = klass.options[klass.selectedIndex];
      var classCurrency = chosen && chosen.value ? chosen.dataset.currency || "" : "";
      // CU-06: a class with a currency offers only that currency.
      if (currency) {
        Array.prototype.forEach.call(currency.options, function (option) {
          var ok = !classCurrency || option.value === classCurrency;
          option.hidden = !ok;
          option.disabled = !ok;
        });
        if (classCurrency) currency.value = classCurrency;
      }
      // CU-09: only classes of the customer's currency, or without a currency.
      var code = chosenCurrency();
      Array.prototype.forEach.call(klass.options, function (option) {
        if (!option.value) return;
        var own = option.dataset.currency || "";
        var ok = !code || !own || own === code;
        option.hidden = !ok;
        option.disabled = !ok;
      });
      if (klass.selectedIndex >= 0 && klass.options[klass.selectedIndex].disabled) {
        klass.value = "";
      }
      // CU-11: mark the custom fields the chosen class makes mandatory.
      var selected = klass.options[klass.selectedIndex];
      var mandatory = ((selected && selected.dataset.mandatory) || "").split(" ");
      var fields = form.querySelectorAll('[data-field^="custom_fields."]');
      Array.prototype.forEach.call(fields, function (wrapper) {
        var name = wrapper.dataset.field.slice("custom_fields.".length);
        var on = mandatory.indexOf(name) >= 0;
        wrapper.classList.toggle("is-mandatory", on);
        var input = wrapper.querySelector("input, select, textarea");
        if (input) input.setAttribute("aria-required", on ? "true" : "false");
      });
    }

    klass.addEventListener("change", sync);
    if (currency) currency.addEventListener("change", sync);
    sync();
  }

  // ------------------------------------------------------------------ named-tax rows

  function initRows(box) {
    var body = box.querySelector("[data-rows-body]");
    var template = box.querySelector("template[data-row-template]");
    if (!body || !template) return;
    var next = 0;
    Array.prototype.forEach.call(body.querySelectorAll("input[name]"), function (input) {
      var match = /-(\d+)-/.exec(input.name);
      if (match) next = Math.max(next, Number(match[1]) + 1);
    });
    box.addEventListener("click", function (event) {
      if (event.target.closest("[data-row-add]")) {
        body.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__i__/g, String(next)));
        next += 1;
        var first = body.lastElementChild && body.lastElementChild.querySelector("input");
        if (first) first.focus();
      }
      var remove = event.target.closest("[data-row-remove]");
      if (remove) remove.closest("tr").remove();
    });
  }

  // ------------------------------------------------------------------ dialogs

  function initDialogs() {
    document.querySelectorAll("[data-dialog-open]").forEach(function (button) {
      button.addEventListener("click", function () {
        var dialog = document.getElementById(button.dataset.dialogOpen);
        if (dialog && dialog.showModal) dialog.showModal();
      });
    });
    document.querySelectorAll("dialog").forEach(function (dialog) {
      dialog.querySelectorAll("[data-dialog-close]").forEach(function (button) {
        button.addEventListener("click", function () {
          dialog.close();
        });
      });
      dialog.addEventListener("click", function (event) {
        if (event.target === dialog) dialog.close(); // a click on the backdrop
      });
      if (dialog.hasAttribute("data-open-on-load") && dialog.showModal) dialog.showModal();
    });
  }

  // ------------------------------------------------------------------ start

  function start() {
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-show-if]")) {
        form.addEventListener("change", function () {
          applyRules(form);
        });
        applyRules(form);
      }
      if (form.hasAttribute("data-tabs-form")) initTabs(form);
      if (form.hasAttribute("data-customer-form")) initCustomerForm(form);
      // One submit per page view: a second click while the first is on its way is ignored
      // (the balance adjustment is idempotent anyway).
      form.addEventListener("submit", function (event) {
        if (form.dataset.submitting) {
          event.preventDefault();
          return;
        }
        form.dataset.submitting = "1";
      });
    });
    document.querySelectorAll("[data-rows]").forEach(initRows);
    initDialogs();
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-confirm]");
      if (!button) return;
      if (!window.confirm(button.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      // Answered here: the server's confirmation page (the step without JavaScript) is skipped.
      var form = button.form;
      if (form && !form.querySelector('input[name="confirmed"]')) {
        var yes = document.createElement("input");
        yes.type = "hidden";
        yes.name = "confirmed";
        yes.value = "1";
        form.appendChild(yes);
      }
    });
  }

  // Back/forward cache: a restored page may submit again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
    });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

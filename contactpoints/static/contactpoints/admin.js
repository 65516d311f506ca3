/* The admin's few behaviours, in plain JavaScript (no framework, nothing fetched from elsewhere):
 * - template previews: the live editor of notification templates, and the Preview button next
 *   to each templated setting of an integration; both POST to an admin view that answers JSON;
 * - list filters shown as a drop-down navigate on change.
 */
"use strict";

(function () {
  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const cookie = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return cookie ? decodeURIComponent(cookie[1]) : "";
  }

  /* {output, syntax} or {error, line, column?, syntax}; a failure of the request itself reads
     like a template error. A blank syntax means: detect it from the text. */
  async function renderPreview(url, template, alerts, syntax) {
    const body = { template: template };
    if (alerts !== undefined) body.alerts = alerts;
    if (syntax) body.syntax = syntax;
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return { error: "The preview could not be fetched: " + error.message };
    }
    try {
      return await response.json();
    } catch (error) {
      return { error: "The preview failed (HTTP " + response.status + "). Is your session still open?" };
    }
  }

  function showResult(output, result) {
    const failed = "error" in result;
    output.hidden = false;
    output.classList.toggle("cp-preview-failed", failed);
    output.classList.toggle("cp-preview-empty", !failed && result.output === "");
    if (failed) {
      // Go's errors already name the engine, line and column; Jinja2's carry the line apart.
      const where = result.line && !result.column ? "Line " + result.line + ": " : "";
      output.textContent = (where || (result.column ? "" : "Error: ")) + result.error;
    } else {
      output.textContent = result.output === "" ? "(renders as nothing)" : result.output;
    }
  }

  /* The Preview button of a templated integration setting: a blank field previews its default. */
  document.addEventListener("click", async function (event) {
    const button = event.target.closest(".cp-preview-button");
    if (!button) return;
    const input = document.getElementById(button.dataset.previewInput);
    const output = button.parentElement.querySelector(".cp-preview-output");
    const template = input.value || input.placeholder || "";
    button.disabled = true;
    showResult(output, await renderPreview(button.dataset.previewUrl, template));
    button.disabled = false;
  });

  /* The template editor: re-render shortly after each edit; only the newest answer is shown. */
  function setUpLivePreview(panel) {
    const source = document.getElementById(panel.dataset.previewSource);
    const alertsBox = panel.querySelector(".cp-preview-alerts");
    const output = panel.querySelector(".cp-preview-output");
    const status = panel.querySelector(".cp-preview-status");
    const syntaxChoice = document.getElementById(panel.dataset.previewSyntaxSource);
    const engine = panel.querySelector(".cp-preview-engine");
    if (!source) return;
    let timer = null;
    let latest = 0;

    async function update() {
      const request = ++latest;
      let alerts;
      try {
        alerts = alertsBox.value.trim() ? JSON.parse(alertsBox.value) : [];
      } catch (error) {
        status.textContent = "The sample alerts are not valid JSON: " + error.message;
        status.classList.add("cp-preview-failed");
        return;
      }
      const syntax = syntaxChoice ? syntaxChoice.value : "";
      const result = await renderPreview(panel.dataset.previewUrl, source.value, alerts, syntax);
      if (request !== latest) return;
      if (engine && result.syntax) engine.textContent = "(" + (result.syntax === "go" ? "Go" : "Jinja2") + ")";
      const alertsRejected = Boolean(result.alerts);
      status.textContent = alertsRejected ? result.error : "Rendered as you type, against the sample alerts below.";
      status.classList.toggle("cp-preview-failed", alertsRejected);
      if (!alertsRejected) showResult(output, result);
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(update, 250);
    }

    source.addEventListener("input", schedule);
    alertsBox.addEventListener("input", schedule);
    if (syntaxChoice) syntaxChoice.addEventListener("change", schedule);
    panel.querySelector(".cp-preview-reset").addEventListener("click", function () {
      alertsBox.value = alertsBox.defaultValue;
      schedule();
    });
    update();
  }

  document.querySelectorAll("[data-live-preview]").forEach(setUpLivePreview);

  document.querySelectorAll("select.cp-select-filter").forEach(function (select) {
    select.addEventListener("change", function () {
      window.location.href = select.value;
    });
  });
})();

// cophub's only script, and an optional one: every page works without it.
// An element with data-live="URL" is replaced, every two seconds, by what
// URL answers (the same element, rendered again), until the answer no
// longer asks to be followed. An announcement's deliveries table uses it.
"use strict";

(function () {
  const PAUSE_MS = 2000;

  function follow(element) {
    const url = element.getAttribute("data-live");
    if (!url) {
      return;
    }
    window.setTimeout(async function () {
      try {
        const answer = await fetch(url, {
          credentials: "same-origin",
          headers: { Accept: "text/html" },
        });
        if (!answer.ok) {
          return; // signed out, or gone: the page stays as it is
        }
        const holder = document.createElement("div");
        holder.innerHTML = await answer.text();
        const fresh = holder.firstElementChild;
        if (!fresh) {
          return;
        }
        element.replaceWith(fresh);
        follow(fresh);
      } catch (_) {
        follow(element); // the network hiccuped: try again later
      }
    }, PAUSE_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(follow);
  });
})();

// The product page's signup form: posts to the signup API and says what happens next, or which field is wrong.
const form = document.getElementById("signup");
const result = document.getElementById("signup-result");
const subdomain = document.getElementById("subdomain");
subdomain.addEventListener("input", () => {
  document.getElementById("subdomain-preview").textContent = subdomain.value || "name";
});
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  result.className = "";
  result.textContent = "Sending…";
  const body = Object.fromEntries(new FormData(form).entries());
  let response;
  try {
    response = await fetch(form.dataset.api, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    result.className = "error";
    result.textContent = "The network failed. Please try again.";
    return;
  }
  const data = await response.json().catch(() => ({}));
  if (response.ok) {
    result.className = "ok";
    result.textContent = data.message || "Check your e-mail to confirm.";
    return;
  }
  const error = data.error || {};
  const details = error.details || {};
  const lines = [];
  for (const [field, messages] of Object.entries(details)) {
    const input = document.getElementById(field);
    if (input) input.setAttribute("aria-invalid", "true");
    lines.push(`${input ? input.labels[0].textContent : field}: ${[].concat(messages).join(" ")}`);
  }
  result.className = "error";
  result.textContent = lines.length ? lines.join(" ") : error.message || "Sign-up failed.";
});

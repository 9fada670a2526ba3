import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ErrorMessage } from "../../components/ErrorMessage";
import { api, unwrap } from "../../lib/api/client";
import { useAuth } from "../../lib/auth";
import { t } from "../../lib/i18n";

export function LoginPage() {
  const { login } = useAuth();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const tenant = useQuery({ queryKey: ["tenant"], queryFn: () => unwrap(api.GET("/api/v1/tenant/")) });

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email, password);
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  return (
    <main id="main" className="narrow">
      <h1>{t("login.title")}</h1>
      {tenant.data && <p>{t("login.organisation", { name: tenant.data.name })}</p>}
      <form onSubmit={submit} className="card">
        <label htmlFor="login-email">{t("login.email")}</label>
        <input id="login-email" type="email" autoComplete="username" required value={email}
          onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="login-password">{t("login.password")}</label>
        <input id="login-password" type="password" autoComplete="current-password" required value={password}
          onChange={(e) => setPassword(e.target.value)} />
        <ErrorMessage error={error} />
        <button type="submit" disabled={busy}>
          {t("login.submit")}
        </button>
      </form>
    </main>
  );
}

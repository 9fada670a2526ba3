import { useEffect, type ReactNode } from "react";
import { NavLink, useLocation } from "react-router-dom";
import { useAuth, useCan } from "../lib/auth";
import { t } from "../lib/i18n";

export function Layout({ children }: { children: ReactNode }) {
  const { state, logout } = useAuth();
  const can = useCan();
  const location = useLocation();
  useEffect(() => {
    document.getElementById("main")?.focus({ preventScroll: true }); // a route change is announced by focus
  }, [location.pathname]);
  if (state.status !== "signed-in") return null;
  return (
    <>
      <a className="skip" href="#main">
        {t("app.skip")}
      </a>
      <header className="topbar">
        <span className="brand">{state.me.tenant.name}</span>
        <nav aria-label={t("app.name")}>
          <NavLink to="/surveys">{t("nav.surveys")}</NavLink>
          {can("user.manage") && <NavLink to="/team">{t("nav.team")}</NavLink>}
        </nav>
        <span className="who">{t("nav.signedInAs", { email: state.me.user.email, role: state.me.role.name })}</span>
        <button type="button" className="secondary" onClick={() => void logout()}>
          {t("nav.signOut")}
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

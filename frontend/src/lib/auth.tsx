import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, CSRF_HEADERS, onAccessTokenChange, refreshAccessToken, setAccessToken, unwrap } from "./api/client";
import type { components } from "./api/schema";

type Me = components["schemas"]["MeOutput"];

export type AuthState =
  | { status: "checking" }
  | { status: "anonymous" }
  | { status: "signed-in"; me: Me; can: (permission: string) => boolean };

interface AuthApi {
  state: AuthState;
  login: (email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const AuthContext = createContext<AuthApi | null>(null);

async function loadMe(): Promise<Me> {
  return unwrap(api.GET("/api/v1/me/"));
}

function signedIn(me: Me): AuthState {
  const permissions = new Set(me.permissions);
  return { status: "signed-in", me, can: (permission) => permissions.has(permission) };
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: "checking" });

  useEffect(() => {
    // A reload keeps the session through the httpOnly refresh cookie, never through storage.
    let alive = true;
    refreshAccessToken()
      .then(async (ok) => {
        if (!alive) return;
        setState(ok ? signedIn(await loadMe()) : { status: "anonymous" });
      })
      .catch(() => alive && setState({ status: "anonymous" }));
    const stop = onAccessTokenChange((token) => {
      if (token === null) setState({ status: "anonymous" });
    });
    return () => {
      alive = false;
      stop();
    };
  }, []);

  const login = useCallback(async (email: string, password: string) => {
    const pair = await unwrap(
      api.POST("/api/v1/auth/token/", { body: { email, password, refresh_transport: "cookie" } }),
    );
    setAccessToken(pair.access);
    setState(signedIn(await loadMe()));
  }, []);

  const logout = useCallback(async () => {
    await api.POST("/api/v1/auth/logout/", { body: {}, headers: CSRF_HEADERS }).catch(() => undefined);
    setAccessToken(null);
    setState({ status: "anonymous" });
  }, []);

  const value = useMemo(() => ({ state, login, logout }), [state, login, logout]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthApi {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}

/** The permission check of the signed-in member (the server stays the authority). */
export function useCan(): (permission: string) => boolean {
  const { state } = useAuth();
  return state.status === "signed-in" ? state.can : () => false;
}

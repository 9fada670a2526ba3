import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ErrorMessage } from "../../components/ErrorMessage";
import { api, unwrap } from "../../lib/api/client";
import { useCan } from "../../lib/auth";
import { t } from "../../lib/i18n";

export default function TeamPage() {
  const can = useCan();
  const client = useQueryClient();
  const members = useQuery({ queryKey: ["members"], queryFn: () => unwrap(api.GET("/api/v1/members/")) });
  const invitations = useQuery({ queryKey: ["invitations"], queryFn: () => unwrap(api.GET("/api/v1/invitations/")) });
  const roles = useQuery({ queryKey: ["roles"], queryFn: () => unwrap(api.GET("/api/v1/roles/")) });
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("analyst");
  const [sent, setSent] = useState("");
  const invite = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/invitations/", { body: { email, role } })),
    onSuccess: (invitation) => {
      setSent(t("team.invited", { email: invitation.email }));
      setEmail("");
      void client.invalidateQueries({ queryKey: ["invitations"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE("/api/v1/invitations/{id}/", { params: { path: { id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["invitations"] }),
  });

  if (!can("user.manage")) return <p>{t("forbidden")}</p>;

  function submit(event: FormEvent) {
    event.preventDefault();
    setSent("");
    invite.mutate();
  }

  return (
    <>
      <h1>{t("team.title")}</h1>
      <h2>{t("team.members")}</h2>
      <ErrorMessage error={members.error} />
      {members.data && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("team.col.email")}</th>
                <th scope="col">{t("team.col.role")}</th>
                <th scope="col">{t("team.col.active")}</th>
              </tr>
            </thead>
            <tbody>
              {members.data.results.map((m) => (
                <tr key={m.id}>
                  <td>{m.email}</td>
                  <td>{m.role}</td>
                  <td>{m.is_active ? t("team.yes") : t("team.no")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>{t("team.invitations")}</h2>
      <ErrorMessage error={invitations.error ?? revoke.error} />
      {invitations.data?.length === 0 && <p>{t("team.noInvitations")}</p>}
      {invitations.data && invitations.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("team.col.email")}</th>
                <th scope="col">{t("team.col.role")}</th>
                <th scope="col">{t("team.col.expires")}</th>
                <th scope="col">{t("surveys.col.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {invitations.data.map((inv) => (
                <tr key={inv.id}>
                  <td>{inv.email}</td>
                  <td>{inv.role}</td>
                  <td>{new Date(inv.expires_at).toLocaleDateString()}</td>
                  <td>
                    <button type="button" className="danger" onClick={() => revoke.mutate(inv.id)}
                      aria-label={t("team.revoke", { email: inv.email })}>
                      {t("team.revokeButton")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="card" onSubmit={submit}>
        <h2>{t("team.invite")}</h2>
        <label htmlFor="invite-email">{t("team.inviteEmail")}</label>
        <input id="invite-email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="invite-role">{t("team.inviteRole")}</label>
        <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value)}>
          {(roles.data ?? []).filter((r) => r.slug !== "respondent").map((r) => (
            <option key={r.slug} value={r.slug}>
              {r.name}
            </option>
          ))}
        </select>
        <ErrorMessage error={invite.error} />
        {sent && <p className="ok" role="status">{sent}</p>}
        <button type="submit" disabled={invite.isPending}>
          {t("team.inviteButton")}
        </button>
      </form>
    </>
  );
}

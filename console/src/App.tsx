import { useMemo, useState } from 'react';
import { Aws } from './aws';
import { ApiContext, PageHeading } from './components';
import { CreateKey } from './pages/CreateKey';
import { forgetSession } from './iam';
import { Audit } from './pages/Audit';
import { IamGroup } from './pages/iam/IamGroup';
import { IamGroups } from './pages/iam/IamGroups';
import { IamRole } from './pages/iam/IamRole';
import { IamRoles } from './pages/iam/IamRoles';
import { IamUser } from './pages/iam/IamUser';
import { IamUsers } from './pages/IamUsers';
import { KeyDetail } from './pages/KeyDetail';
import { Keys } from './pages/Keys';
import { Playground } from './pages/Playground';
import { SignIn } from './pages/SignIn';
import { useRoute, type Route } from './router';
import { clearSession, loadSession, saveSession, type SignedIn } from './session';

const NAV: { href: string; label: string; active: (r: Route) => boolean }[] = [
  { href: '#/keys', label: 'Keys', active: (r) => r.name === 'keys' || r.name === 'key' || r.name === 'createKey' },
  { href: '#/playground', label: 'Playground', active: (r) => r.name === 'playground' },
  { href: '#/iam/users', label: 'IAM users', active: (r) => r.name === 'iamUsers' || r.name === 'iamUser' },
  { href: '#/iam/groups', label: 'IAM groups', active: (r) => r.name === 'iamGroups' || r.name === 'iamGroup' },
  { href: '#/iam/roles', label: 'IAM roles', active: (r) => r.name === 'iamRoles' || r.name === 'iamRole' },
  { href: '#/audit', label: 'Audit', active: (r) => r.name === 'audit' },
];

export function App() {
  const [session, setSession] = useState<SignedIn | undefined>(() => loadSession());
  const route = useRoute();
  const api = useMemo(() => (session ? { aws: new Aws(session), session } : undefined), [session]);

  const signIn = (s: SignedIn) => {
    saveSession(s);
    setSession(s);
  };
  const signOut = () => {
    clearSession();
    forgetSession();
    setSession(undefined);
    location.hash = '#/';
  };

  return (
    <>
      <a className="skip-link" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        Skip to content
      </a>
      <header className="top">
        <div className="brand">
          <a href="#/keys" className="brand-link">Trent console</a>
        </div>
        {session && (
          <>
            <nav aria-label="Main">
              <ul>
                {NAV.map((n) => (
                  <li key={n.href}>
                    <a href={n.href} aria-current={n.active(route) ? 'page' : undefined}>
                      {n.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
            <div className="whoami">
              <span className="whoami-label">Signed in as</span>{' '}
              <span className="arn" data-testid="whoami">{session.arn}</span>{' '}
              <span className="whoami-region" data-testid="whoami-region">({session.region})</span>
              <button type="button" className="secondary" onClick={signOut} data-testid="sign-out">
                Sign out
              </button>
            </div>
          </>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {api ? (
          <ApiContext.Provider value={api}>
            <Page route={route} />
          </ApiContext.Provider>
        ) : (
          <SignIn onSignedIn={signIn} />
        )}
      </main>
    </>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.name) {
    case 'keys':
      return <Keys />;
    case 'createKey':
      return <CreateKey />;
    case 'key':
      return <KeyDetail key={route.id} id={route.id} />;
    case 'playground':
      return <Playground key={route.keyId ?? ''} initialKeyId={route.keyId} />;
    case 'iamUsers':
      return <IamUsers />;
    case 'iamUser':
      return <IamUser key={route.userName} name={route.userName} />;
    case 'iamGroups':
      return <IamGroups />;
    case 'iamGroup':
      return <IamGroup key={route.groupName} name={route.groupName} />;
    case 'iamRoles':
      return <IamRoles />;
    case 'iamRole':
      return <IamRole key={route.roleName} name={route.roleName} />;
    case 'audit':
      return <Audit key={`${route.attribute ?? ''}=${route.value ?? ''}`} attribute={route.attribute} value={route.value} />;
    case 'notFound':
      return (
        <section>
          <PageHeading title="Not found">Not found</PageHeading>
          <p>
            There is no page at <code>{route.path}</code>. <a href="#/keys">Go to the keys</a>.
          </p>
        </section>
      );
  }
}

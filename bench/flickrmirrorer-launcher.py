#!/usr/bin/python3
"""Runs the unmodified original flickrmirrorer.py against our fake Flickr.

    HOME=<private dir> FAKE_FLICKR_ORIGIN=http://127.0.0.1:PORT FAKE_FLICKR_API_KEY=... \\
    FAKE_FLICKR_API_SECRET=... FAKE_FLICKR_TOKEN=... FAKE_FLICKR_TOKEN_SECRET=... \\
    FAKE_FLICKR_NSID=... FAKE_FLICKR_USERNAME=... \\
    /usr/bin/python3 bench/flickrmirrorer-launcher.py PATH/TO/flickrmirrorer.py [its usual arguments]

This is not a copy of the tool: it imports the file as a module and changes nothing in it. Three
things are set from outside, as a user with their own key and an existing login would have them:

- Hosts. The tool and flickrapi hard-code api.flickr.com / www.flickr.com (REST and OAuth),
  farm<N>.staticflickr.com (photo originals) and www.flickr.com/photos/... (video play URLs).
  Every request leaves through requests' HTTPAdapter.send, so that is where the URL is mapped to
  the fake: api/www/up.flickr.com keep their path, *.staticflickr.com/<path> becomes
  <origin>/media/<path>, the fake's CDN prefix. OAuth signatures are made before that, over the
  canonical https://...flickr.com URLs, which is what the fake (like Flickr) checks. A request to
  any other host fails, so nothing leaves the machine.
- The API key pair: the tool's built-in key is replaced by the fake's (module constants API_KEY,
  API_SECRET, read when the tool builds its FlickrAPI).
- The login. flickrapi keeps tokens in ~/.flickr/oauth-tokens.sqlite and the tool only logs in
  interactively (browser + pasted verifier), so the fake's pre-authorized token is written into
  that cache first, with flickrapi's own OAuthTokenCache. Run with HOME set to a private folder.

Exit status is the tool's (sys.exit codes pass through; 0 when main() returns).
"""
import importlib.util
import os
import sys
import urllib.parse


def fail(msg):
    sys.stderr.write('flickrmirrorer-launcher: %s\n' % msg)
    sys.exit(2)


def env(name):
    value = os.environ.get(name, '')
    if value == '':
        fail('%s is not set (see the top of this file for what to set)' % name)
    return value


def to_fake(url, origin):
    """The fake's URL for a Flickr URL; None for a host that is neither Flickr nor the fake."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or '').lower()
    rest = parts.path + ('?' + parts.query if parts.query else '')
    if url.startswith(origin + '/'):
        return url
    if host in ('api.flickr.com', 'www.flickr.com', 'up.flickr.com', 'flickr.com'):
        return origin + rest
    if host.endswith('.staticflickr.com') or host.endswith('.static.flickr.com'):
        return origin + '/media' + rest
    return None


def route_requests_to(origin):
    import requests.adapters

    send = requests.adapters.HTTPAdapter.send

    def send_to_fake(self, request, *args, **kwargs):
        target = to_fake(request.url, origin)
        if target is None:
            raise requests.exceptions.ConnectionError('launcher: refusing a request outside the fake: %s' % request.url)
        request.url = target
        return send(self, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = send_to_fake


def seed_token_cache(api_key):
    """Writes the fake's token where flickrapi looks for it.

    Debian's flickrapi 2.1.2 cannot create its own cache: OAuthTokenCache.create_table() runs its
    CREATE TABLEs after an INSERT that opened a transaction and never commits, so the tables vanish
    when the connection closes and the first token write fails with "no such table". The same
    schema (DB_VERSION 1) is created and committed here; flickrapi's own setter then stores the token.
    """
    import sqlite3
    from flickrapi.auth import FlickrAccessToken
    from flickrapi.tokencache import OAuthTokenCache

    folder = os.path.expanduser(os.path.join('~', '.flickr'))
    os.makedirs(folder, exist_ok=True)
    db = sqlite3.connect(os.path.join(folder, 'oauth-tokens.sqlite'))
    db.execute('CREATE TABLE IF NOT EXISTS oauth_cache_db_version (version int not null)')
    if db.execute('SELECT version FROM oauth_cache_db_version').fetchone() is None:
        db.execute('INSERT INTO oauth_cache_db_version (version) VALUES (?)', (OAuthTokenCache.DB_VERSION,))
    db.execute('''CREATE TABLE IF NOT EXISTS oauth_tokens (
                    api_key varchar(64) not null,
                    lookup_key varchar(64) not null default '',
                    oauth_token varchar(64) not null,
                    oauth_token_secret varchar(64) not null,
                    access_level varchar(6) not null,
                    fullname varchar(255) not null,
                    username varchar(255) not null,
                    user_nsid varchar(64) not null,
                    PRIMARY KEY(api_key, lookup_key))''')
    db.commit()
    db.close()
    cache = OAuthTokenCache(api_key, '')
    cache.token = FlickrAccessToken(
        env('FAKE_FLICKR_TOKEN'), env('FAKE_FLICKR_TOKEN_SECRET'), 'read',
        os.environ.get('FAKE_FLICKR_FULLNAME', ''), env('FAKE_FLICKR_USERNAME'), env('FAKE_FLICKR_NSID'))


def load_tool(path):
    if not os.path.isfile(path):
        fail('no flickrmirrorer.py at %s' % path)
    spec = importlib.util.spec_from_file_location('flickrmirrorer', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    if len(sys.argv) < 3:
        fail('usage: flickrmirrorer-launcher.py PATH/TO/flickrmirrorer.py DESTDIR [flickrmirrorer options]')
    tool_path = sys.argv[1]
    origin = env('FAKE_FLICKR_ORIGIN').rstrip('/')
    if not origin.startswith('http://127.0.0.1:') and not origin.startswith('http://localhost:'):
        fail('FAKE_FLICKR_ORIGIN must be a loopback http:// origin, got %s' % origin)
    tool = load_tool(tool_path)
    tool.API_KEY = env('FAKE_FLICKR_API_KEY')
    tool.API_SECRET = env('FAKE_FLICKR_API_SECRET')
    route_requests_to(origin)
    seed_token_cache(tool.API_KEY)
    sys.argv = [tool_path] + sys.argv[2:]
    # What the tool's own `if __name__ == '__main__'` block does.
    try:
        tool.main()
    except KeyboardInterrupt:
        print('')


if __name__ == '__main__':
    main()

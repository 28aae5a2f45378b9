# -*- coding: utf-8 -*-
"""Who still reads a secret: the ECS task definitions that reference it, and the
services that run them. The gate before the monorepo secrets are retired.

ECS reads a task's secrets when the task STARTS: a retired (scheduled for
deletion) secret breaks the next start of anything that still names it, the
old monorepo service, the new service's previous revision (the way back of a
rollback or of `cutover.yml -e stage=0`), or any other ACTIVE task definition
(another service, a scheduled task). So every ACTIVE task definition of the
regions involved is read, plus the task definitions the configured clusters'
services run (even INACTIVE ones: a service keeps starting tasks from a
deregistered revision).

A reference is any Secrets Manager `valueFrom` (container `secrets`, log
driver `secretOptions`) or `repositoryCredentials.credentialsParameter` that
names the secret, in the forms ECS accepts (AWS documentation, "Pass Secrets
Manager secrets through Amazon ECS environment variables"):
  - the full ARN, with optional `:<json-key>:<version-stage>:<version-id>`;
  - a partial ARN (the name without the 6-character suffix);
  - the secret's name, for a secret in the task's own region;
  - the Parameter Store reference `/aws/reference/secretsmanager/<name>` (as ARN or name).
Pure logic: the AWS calls are the `ecs_for(region)` client's, made by find_readers.
"""
from __future__ import annotations

SSM_REFERENCE = "/aws/reference/secretsmanager/"


def _secret_id_matches(secret_id, secret):
    """secret_id: the name part of an ARN (with or without the random suffix) or a name."""
    name = secret["name"]
    if secret_id == name:
        return True
    arn_parts = (secret.get("arn") or "").split(":")
    if len(arn_parts) > 6:
        return secret_id == arn_parts[6]  # <name>-XXXXXX: this secret's suffix, not another's of the same name
    return len(secret_id) == len(name) + 7 and secret_id.startswith(name + "-")


def references(value_from, taskdef_region, secret):
    """Does `value_from` (in a task definition of `taskdef_region`) name `secret`
    (dict name, region, arn: the ARN when known)?"""
    if not isinstance(value_from, str) or not value_from:
        return False
    parts = value_from.split(":")
    if value_from.startswith("arn:") and len(parts) >= 6:
        service, region, account, resource = parts[2], parts[3], parts[4], ":".join(parts[5:])
        if region != secret["region"]:
            return False
        arn = secret.get("arn") or ""
        if arn and account and account != arn.split(":")[4]:
            return False
        if service == "secretsmanager" and len(parts) >= 7 and parts[5] == "secret":
            if arn and ":".join(parts[:7]) == arn:
                return True
            return _secret_id_matches(parts[6], secret)
        if service == "ssm" and resource.startswith("parameter" + SSM_REFERENCE):
            return _secret_id_matches(resource[len("parameter" + SSM_REFERENCE):].split(":")[0], secret)
        return False
    if taskdef_region != secret["region"]:
        return False  # a bare name only reaches a secret of the task's own region
    if value_from.startswith(SSM_REFERENCE):
        value_from = value_from[len(SSM_REFERENCE):]
    return _secret_id_matches(value_from.split(":")[0], secret)


def secret_refs(taskdef):
    """(container, what, valueFrom) for every secret reference of a task definition."""
    for c in taskdef.get("containerDefinitions") or []:
        cname = c.get("name")
        for s in c.get("secrets") or []:
            yield cname, s.get("name"), s.get("valueFrom")
        for s in (c.get("logConfiguration") or {}).get("secretOptions") or []:
            yield cname, f"log option {s.get('name')}", s.get("valueFrom")
        creds = (c.get("repositoryCredentials") or {}).get("credentialsParameter")
        if creds:
            yield cname, "repository credentials", creds


def taskdef_readers(taskdef, region, secrets):
    """[(secret name, container, what)] of `secrets` this task definition reads."""
    out = []
    for cname, what, vf in secret_refs(taskdef):
        for s in secrets:
            if references(vf, region, s):
                out.append((s["name"], cname, what))
    return out


def family_revision(arn_or_td):
    if isinstance(arn_or_td, dict):
        return f"{arn_or_td.get('family')}:{arn_or_td.get('revision')}"
    return arn_or_td.rsplit("/", 1)[-1]


def _pages(call, key, **kwargs):
    token = None
    while True:
        resp = call(**kwargs, **({"nextToken": token} if token else {}))
        yield from resp.get(key) or []
        token = resp.get("nextToken")
        if not token:
            return


def _error_code(exc):
    return getattr(exc, "response", {}).get("Error", {}).get("Code")


def find_readers(secrets, clusters, ecs_for, retry_kw=None):
    """secrets: [{name, region, arn}] (the monorepo secrets to retire).
    clusters: [{cluster, region}] whose services are named (the old and the new one).
    ecs_for(region): an ECS client. Returns dict(readers, warnings, checked) where
    readers is a list of {task_definition (family:revision), arn, region, status,
    reads: [{secret, container, variable}], services: [cluster/service]}."""
    kw = dict(retry_kw or {})
    regions = sorted({s["region"] for s in secrets} | {c["region"] for c in clusters})
    services_of, warnings, described = {}, [], {}
    for c in clusters:
        ecs = ecs_for(c["region"])
        try:
            arns = list(_pages(lambda **a: ecs.list_services(**kw, **a), "serviceArns", cluster=c["cluster"]))
        except Exception as e:  # botocore ClientError
            if _error_code(e) == "ClusterNotFoundException":
                warnings.append(f"cluster {c['cluster']} not found in {c['region']}: no service of it checked "
                                "(its region's ACTIVE task definitions are)")
                continue
            raise
        for i in range(0, len(arns), 10):
            for svc in ecs.describe_services(**kw, cluster=c["cluster"], services=arns[i:i + 10]).get("services") or []:
                if svc.get("status") in ("INACTIVE", "DRAINING"):
                    continue  # deleted or being deleted: starts no task any more
                label = f"{c['cluster']}/{svc.get('serviceName')}"
                tds = {svc.get("taskDefinition")} | {d.get("taskDefinition") for d in svc.get("deployments") or []}
                for td in tds - {None}:
                    services_of.setdefault((c["region"], td), []).append(label)
    candidates = []
    for region in regions:
        ecs = ecs_for(region)
        for arn in _pages(lambda **a: ecs.list_task_definitions(**kw, **a), "taskDefinitionArns", status="ACTIVE"):
            candidates.append((region, arn))
    candidates += [key for key in services_of if key not in set(candidates)]
    readers = []
    for region, arn in candidates:
        if (region, arn) in described:
            continue
        td = ecs_for(region).describe_task_definition(**kw, taskDefinition=arn)["taskDefinition"]
        described[(region, arn)] = td
        services = sorted(set(services_of.get((region, arn), []) + services_of.get((region, td.get("taskDefinitionArn")), [])))
        if td.get("status") != "ACTIVE" and not services:
            continue  # deregistered and run by no service: nothing starts from it any more
        reads = taskdef_readers(td, region, secrets)
        if not reads:
            continue
        readers.append(dict(
            task_definition=family_revision(td),
            arn=td.get("taskDefinitionArn") or arn,
            region=region,
            status=td.get("status"),
            reads=[dict(secret=s, container=cname, variable=what) for s, cname, what in reads],
            services=services,
        ))
    readers.sort(key=lambda r: (r["region"], r["task_definition"]))
    return dict(readers=readers, warnings=warnings, checked=len(described), regions=regions)


def refusal(readers):
    """The one-line refusal naming every reader (family:revision, region, services, what it reads)."""
    parts = []
    for r in readers:
        svc = ", ".join(f"service {s}" for s in r["services"]) or "no service"
        reads = ", ".join(sorted({f"{x['secret']} ({x['container']}: {x['variable']})" for x in r["reads"]}))
        parts.append(f"{r['task_definition']} ({r['region']}, {r['status']}; {svc}) reads {reads}")
    return (f"retirement refused: {len(readers)} task definition(s) still read the secrets to retire: "
            + "; ".join(parts)
            + ". Move each service to a revision that reads the migrated secrets, deregister the old revisions "
              "(aws ecs deregister-task-definition; it gives up rolling back to them), then rerun")

"""Tools around the pipeline, not part of it: the demo launcher, the Airflow REST client, the
local process cluster, the compose settings renderer and the traffic simulator."""
